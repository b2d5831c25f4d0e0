using Akka.Actor;
using Micro.Actors.Registry;
using Micro.Actors.Selector;

namespace Micro.Actors.Tests.Selector;

/// <summary>The pure narrowing logic, without a cluster.</summary>
public sealed class SelectionTests
{
    private static ServiceNode Node(int port, NodeStatus status = NodeStatus.Up, string version = "1.0.0", string? zone = null) =>
        new($"127.0.0.1:{port}#1", new Address("akka.tcp", "micro", "127.0.0.1", port), "greeter", version,
            zone is null ? new Dictionary<string, string>() : new Dictionary<string, string> { ["zone"] = zone },
            [new EndpointInfo("Greeter.Hello", "HelloRequest", "HelloReply")], status);

    private static Candidates Narrow(IReadOnlyList<ServiceNode> nodes, string endpoint = "Greeter.Hello",
        IReadOnlyList<Func<ServiceNode, bool>>? filters = null, string? address = null,
        IReadOnlySet<string>? tried = null, Func<ServiceNode, bool>? sidelined = null) =>
        Selection.Narrow(nodes, ["greeter", "billing"], "greeter", endpoint, filters ?? [], address,
            tried ?? new HashSet<string>(), sidelined ?? (_ => false));

    [Fact]
    public void No_nodes_is_NotFound_naming_the_known_services()
    {
        var result = Narrow([]);
        Assert.Equal(404, result.Error!.Code);
        Assert.Contains("known services: billing, greeter", result.Error.Detail);
    }

    [Fact]
    public void Unknown_endpoint_is_NotFound_listing_the_endpoints()
    {
        var result = Narrow([Node(1)], endpoint: "Greeter.Bye");
        Assert.Equal(404, result.Error!.Code);
        Assert.Contains("its endpoints are: Greeter.Hello", result.Error.Detail);
    }

    [Fact]
    public void Only_up_untried_nodes_are_candidates_and_none_left_is_503()
    {
        var nodes = new[] { Node(1), Node(2, NodeStatus.Unreachable), Node(3, NodeStatus.Leaving), Node(4) };
        Assert.Equal([1, 4], Narrow(nodes).Nodes.Select(n => n.Address.Port!.Value));
        Assert.Equal([4], Narrow(nodes, tried: new HashSet<string> { nodes[0].Id }).Nodes.Select(n => n.Address.Port!.Value));

        var none = Narrow(nodes, tried: new HashSet<string> { nodes[0].Id, nodes[3].Id });
        Assert.Equal(503, none.Error!.Code);
        Assert.Contains("2 already tried, 1 unreachable, 1 leaving", none.Error.Detail);
    }

    [Fact]
    public void Sidelined_nodes_are_used_only_when_nothing_else_is_left()
    {
        var nodes = new[] { Node(1), Node(2) };
        Assert.Equal([2], Narrow(nodes, sidelined: n => n.Address.Port == 1).Nodes.Select(n => n.Address.Port!.Value));
        Assert.Equal([1, 2], Narrow(nodes, sidelined: _ => true).Nodes.Select(n => n.Address.Port!.Value));
    }

    [Fact]
    public void Filters_and_a_fixed_address_narrow_the_choice()
    {
        var nodes = new[] { Node(1, version: "1.0.0", zone: "a"), Node(2, version: "2.0.0", zone: "b") };
        Assert.Equal([2], Narrow(nodes, filters: [Filters.Version("2.0.0")]).Nodes.Select(n => n.Address.Port!.Value));
        Assert.Equal([1], Narrow(nodes, filters: [Filters.Label("zone", "a")]).Nodes.Select(n => n.Address.Port!.Value));
        Assert.Equal([1], Narrow(nodes, address: "127.0.0.1:1").Nodes.Select(n => n.Address.Port!.Value));

        var unmatched = Narrow(nodes, filters: [Filters.Version("3.0.0")]);
        Assert.Equal(404, unmatched.Error!.Code);
        Assert.Contains("versions: 1.0.0, 2.0.0", unmatched.Error.Detail);
        Assert.Equal(404, Narrow(nodes, address: "127.0.0.1:9").Error!.Code);
    }

    [Fact]
    public void Round_robin_takes_each_candidate_in_turn_and_random_takes_all_eventually()
    {
        var nodes = new[] { Node(1), Node(2), Node(3) };
        var rr = new RoundRobinSelector();
        Assert.Equal([1, 2, 3, 1, 2, 3], Enumerable.Range(0, 6).Select(_ => rr.Select(nodes).Address.Port!.Value));
        var seen = Enumerable.Range(0, 200).Select(_ => RandomSelector.Instance.Select(nodes).Address.Port!.Value).ToHashSet();
        Assert.Equal(3, seen.Count);
    }

    [Fact]
    public void Nodes_that_are_not_reading_take_no_new_call_and_when_all_are_the_call_fails_at_once_with_503()
    {
        var (a, b) = (Node(1), Node(2));
        var backlogged = new HashSet<string> { a.HostPort };
        var some = Selection.Sendable(Narrow([a, b]), n => backlogged.Contains(n.HostPort), "greeter", "Greeter.Hello");
        Assert.Equal([b], some.Nodes);

        backlogged.Add(b.HostPort);
        var none = Selection.Sendable(Narrow([a, b]), n => backlogged.Contains(n.HostPort), "greeter", "Greeter.Hello");
        Assert.Equal(503, none.Error?.Code);
        Assert.Contains("micro.socket.send-budget", none.Error!.Detail);
        Assert.Contains(a.HostPort, none.Error.Detail);

        // An earlier error (no such endpoint) stays the answer; with nothing backlogged, nothing changes.
        Assert.Equal(404, Selection.Sendable(Narrow([a, b], "Greeter.Nope"), _ => true, "greeter", "Greeter.Nope").Error?.Code);
        Assert.Equal(2, Selection.Sendable(Narrow([a, b]), _ => false, "greeter", "Greeter.Hello").Nodes.Count);
    }

    [Fact]
    public void The_usual_call_gets_the_registry_list_itself_and_anything_unusual_a_narrowed_one()
    {
        var nodes = new[] { Node(1), Node(2) };
        Assert.Same(nodes, Narrow(nodes).Nodes); // no list made per call
        Assert.Same(nodes, Narrow(nodes, endpoint: "Debug.Health").Nodes); // built-in endpoints: every node has them

        // Each of these takes the long way, and gets its own answer.
        Assert.Equal([2], Narrow(nodes, sidelined: n => n.Address.Port == 1).Nodes.Select(n => n.Address.Port!.Value));
        Assert.Equal([2], Narrow(nodes, tried: new HashSet<string> { nodes[0].Id }).Nodes.Select(n => n.Address.Port!.Value));
        Assert.Equal([1], Narrow(nodes, address: "127.0.0.1:1").Nodes.Select(n => n.Address.Port!.Value));
        Assert.Equal([2], Narrow([nodes[0] with { Status = NodeStatus.Unreachable }, nodes[1]]).Nodes.Select(n => n.Address.Port!.Value));
        var oneWithout = nodes[1] with { Endpoints = [new EndpointInfo("Greeter.Other", "A", "B")] };
        Assert.Equal([1], Narrow([nodes[0], oneWithout]).Nodes.Select(n => n.Address.Port!.Value));
        var streaming = nodes.Select(n => n with { Endpoints = [new EndpointInfo("Greeter.Hello", "A", "B", Stream: Micro.Actors.Streaming.StreamKind.Server)] }).ToList();
        Assert.Equal(400, Narrow(streaming).Error?.Code);
    }
}
