using Micro.Actors.AspNetCore;
using Micro.Actors.Errors;

namespace Micro.Actors.Tests.Hosting;

/// <summary>A MicroException as an HTTP answer: the caller's mistakes keep their code, the downstream's failures become the gateway's.</summary>
public sealed class ProblemDetailsTests
{
    [Theory]
    [InlineData(400, 400)]
    [InlineData(401, 401)]
    [InlineData(403, 403)]
    [InlineData(404, 404)]
    [InlineData(409, 409)]
    [InlineData(413, 413)]
    [InlineData(429, 429)]
    [InlineData(408, 504)]
    [InlineData(503, 503)]
    [InlineData(500, 502)]
    [InlineData(502, 502)]
    [InlineData(504, 502)]
    [InlineData(0, 502)]
    public void Codes_map_to_http_statuses(int code, int status) =>
        Assert.Equal(status, MicroProblemDetails.StatusCode(MicroError.New("greeter", code, "x")));

    [Fact]
    public void The_problem_carries_the_detail_and_the_services_own_code_and_id()
    {
        var problem = MicroProblemDetails.From(MicroError.Timeout("micro.client", "greeter Greeter.Wait did not answer within 5 s"), "/wait/6000");
        Assert.Equal(504, problem.Status);
        Assert.Equal("Gateway Timeout", problem.Title);
        Assert.Equal("greeter Greeter.Wait did not answer within 5 s", problem.Detail);
        Assert.Equal("/wait/6000", problem.Instance);
        Assert.Equal(408, problem.Extensions["code"]);
        Assert.Equal("micro.client", problem.Extensions["id"]);
        Assert.False(problem.Extensions.ContainsKey("errorId"));
    }

    [Fact]
    public void A_handlers_failure_carries_its_error_id()
    {
        var problem = MicroProblemDetails.From(MicroError.InternalServerError("greeter",
            "Greeter.Hello failed on the server (error id 7f3c2a1e9b4d): the details are in that node's log under this id"));
        Assert.Equal(502, problem.Status);
        Assert.Equal("7f3c2a1e9b4d", problem.Extensions["errorId"]);
    }
}
