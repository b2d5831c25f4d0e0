using System.Text.Json;
using System.Text.Json.Nodes;
using Micro.Actors.Registry;
using Micro.Actors.Streaming;

namespace Micro.Actors.AspNetCore.Gateway;

/// <summary>
/// The gateway's OpenAPI 3.0 document, built from what the registry knows now: a path per endpoint
/// (<c>POST /{service}/{endpoint}</c>, or <c>GET</c> with a WebSocket for client and bidirectional streams)
/// and per subscribed topic (<c>POST /events/{topic}</c>), with JSON schemas from the descriptors' shapes.
/// Written as plain JSON so the package imposes no OpenAPI library version on the app (ASP.NET Core's own
/// OpenAPI support brings one).
/// </summary>
internal static class OpenApi
{
    private const string Problem = "#/components/schemas/Problem";

    public static JsonObject Build(IReadOnlyList<ServiceInfo> services, string serverUrl, string version)
    {
        var paths = new JsonObject();
        foreach (var service in services.OrderBy(s => s.Name, StringComparer.Ordinal))
        foreach (var endpoint in service.Nodes.SelectMany(n => n.Endpoints).DistinctBy(e => e.Name).OrderBy(e => e.Name, StringComparer.Ordinal))
            paths[$"/{service.Name}/{endpoint.Name}"] = PathOf(service.Name, endpoint);

        var topics = services.SelectMany(s => s.Nodes).SelectMany(n => n.Subscriptions).GroupBy(s => s.Topic).OrderBy(g => g.Key, StringComparer.Ordinal);
        foreach (var topic in topics)
            paths[$"/events/{topic.Key}"] = TopicOf(topic.Key, topic.Select(s => MicroApi.ShortName(s.MessageType)).Distinct().Order(StringComparer.Ordinal).ToList());

        return new JsonObject
        {
            ["openapi"] = "3.0.3",
            ["info"] = new JsonObject
            {
                ["title"] = "Micro.Actors gateway",
                ["version"] = version,
                ["description"] = "The services and topics of the cluster, as its registry lists them now. Errors are RFC 7807 problem details; " +
                    "Micro-* headers travel as metadata; Micro-Timeout sets a call's deadline.",
            },
            ["servers"] = new JsonArray(new JsonObject { ["url"] = serverUrl }),
            ["paths"] = paths,
            ["components"] = new JsonObject
            {
                ["schemas"] = new JsonObject
                {
                    ["Problem"] = Object(("type", Type("string")), ("title", Type("string")), ("status", Type("integer")), ("detail", Type("string")),
                        ("instance", Type("string")), ("code", Type("integer")), ("id", Type("string"))),
                },
            },
        };
    }

    private static JsonObject PathOf(string service, EndpointInfo endpoint)
    {
        var id = OperationId($"{service}_{endpoint.Name}");
        var tags = new JsonArray(service);
        if (endpoint.Stream is StreamKind.Client or StreamKind.Bidirectional)
        {
            return new JsonObject
            {
                ["get"] = new JsonObject
                {
                    ["operationId"] = id,
                    ["tags"] = tags,
                    ["summary"] = $"{StreamResponse.Describe(endpoint.Stream.Value)} stream over a WebSocket",
                    ["description"] = $"Open a WebSocket here; send each {MicroApi.ShortName(endpoint.RequestType)} as a JSON message, close to end the requests. " +
                        $"Each {(endpoint.ResponseType is { } r ? MicroApi.ShortName(r) : "reply")} comes as a JSON message; the close is 1000 when done, else 4000 + the error's HTTP status.",
                    ["parameters"] = Parameters(),
                    ["responses"] = new JsonObject
                    {
                        ["101"] = new JsonObject { ["description"] = "the WebSocket is open" },
                        ["default"] = ProblemResponse("the stream could not be opened"),
                    },
                },
            };
        }

        var responses = new JsonObject();
        if (endpoint.Stream is StreamKind.Server)
        {
            var item = SchemaOf(endpoint.ResponseShape);
            responses["200"] = new JsonObject
            {
                ["description"] = "each reply as an event (data: JSON), then an end event; with Accept: application/x-ndjson, a reply per line",
                ["content"] = new JsonObject
                {
                    [MicroApi.EventStream] = new JsonObject { ["schema"] = Type("string") },
                    [MicroApi.NdJson] = new JsonObject { ["schema"] = item },
                },
            };
        }
        else if (endpoint.ResponseType is null)
            responses["202"] = new JsonObject { ["description"] = "handed to a node (one-way: no reply)" };
        else
            responses["200"] = new JsonObject
            {
                ["description"] = MicroApi.ShortName(endpoint.ResponseType),
                ["content"] = new JsonObject { ["application/json"] = new JsonObject { ["schema"] = SchemaOf(endpoint.ResponseShape) } },
            };
        responses["default"] = ProblemResponse("the call failed");
        return new JsonObject
        {
            ["post"] = new JsonObject
            {
                ["operationId"] = id,
                ["tags"] = tags,
                ["summary"] = endpoint.Stream is StreamKind.Server ? "server stream" : endpoint.ResponseType is null ? "one-way" : "call",
                ["parameters"] = Parameters(),
                ["requestBody"] = new JsonObject
                {
                    ["description"] = MicroApi.ShortName(endpoint.RequestType),
                    ["content"] = new JsonObject { ["application/json"] = new JsonObject { ["schema"] = SchemaOf(endpoint.RequestShape) } },
                },
                ["responses"] = responses,
            },
        };
    }

    private static JsonObject TopicOf(string topic, IReadOnlyList<string> types) => new()
    {
        ["post"] = new JsonObject
        {
            ["operationId"] = OperationId($"publish_{topic}"),
            ["tags"] = new JsonArray("events"),
            ["summary"] = $"publish an event on {topic}",
            ["parameters"] = new JsonArray(new JsonObject
            {
                ["name"] = "type",
                ["in"] = "query",
                ["required"] = types.Count > 1,
                ["description"] = "the event's type, as subscribers name it (needed when they take several)",
                ["schema"] = new JsonObject { ["type"] = "string", ["enum"] = new JsonArray(types.Select(t => (JsonNode?)JsonValue.Create(t)).ToArray()) },
            }),
            ["requestBody"] = new JsonObject { ["content"] = new JsonObject { ["application/json"] = new JsonObject { ["schema"] = new JsonObject { ["type"] = "object" } } } },
            ["responses"] = new JsonObject
            {
                ["202"] = new JsonObject { ["description"] = "published" },
                ["default"] = ProblemResponse("not published: 404 when nobody subscribes, 400 for a type nobody takes"),
            },
        },
    };

    private static JsonArray Parameters() => new(new JsonObject
    {
        ["name"] = GatewayRequest.TimeoutHeader,
        ["in"] = "header",
        ["required"] = false,
        ["description"] = "the call's deadline: milliseconds (250) or 250ms, 2s, 1m",
        ["schema"] = Type("string"),
    });

    private static JsonObject ProblemResponse(string description) => new()
    {
        ["description"] = description,
        ["content"] = new JsonObject { ["application/problem+json"] = new JsonObject { ["schema"] = new JsonObject { ["$ref"] = Problem } } },
    };

    /// <summary>A JSON schema from a descriptor's shape (<c>{"name":"string","tags":["string"],"age":"integer?"}</c>); any value when it has none.</summary>
    internal static JsonObject SchemaOf(string? shape)
    {
        if (string.IsNullOrEmpty(shape)) return new JsonObject();
        try { return Schema(JsonNode.Parse(shape)); }
        catch (JsonException) { return new JsonObject(); }
    }

    private static JsonObject Schema(JsonNode? shape) => shape switch
    {
        JsonObject o => new JsonObject
        {
            ["type"] = "object",
            ["properties"] = new JsonObject(o.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)Schema(p.Value)))),
        },
        JsonArray a => new JsonObject { ["type"] = "array", ["items"] = a.Count > 0 ? Schema(a[0]) : new JsonObject() },
        JsonValue v when v.TryGetValue<string>(out var name) => Scalar(name),
        _ => new JsonObject(),
    };

    private static JsonObject Scalar(string name)
    {
        var type = name.TrimEnd('?');
        if (type is not ("string" or "integer" or "number" or "boolean" or "object" or "array")) return new JsonObject(); // "any"
        var schema = type == "array" ? new JsonObject { ["type"] = "array", ["items"] = new JsonObject() } : Type(type);
        if (name.EndsWith('?')) schema["nullable"] = true;
        return schema;
    }

    private static JsonObject Type(string type) => new() { ["type"] = type };

    private static JsonObject Object(params (string Name, JsonObject Schema)[] properties) => new()
    {
        ["type"] = "object",
        ["properties"] = new JsonObject(properties.Select(p => KeyValuePair.Create(p.Name, (JsonNode?)p.Schema))),
    };

    private static string OperationId(string text) => string.Concat(text.Select(c => char.IsAsciiLetterOrDigit(c) ? c : '_'));
}
