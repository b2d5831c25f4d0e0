using System.Buffers.Binary;
using System.Collections.Immutable;
using System.Text;
using Akka.Actor;
using Akka.Serialization;
using Micro.Actors.Errors;
using Micro.Actors.Server;

namespace Micro.Actors.Codec;

/// <summary>
/// Akka serializer for the envelopes of every call and event (<see cref="Request"/>, <see cref="Response"/>,
/// their batches, <see cref="Broker.Event"/> and its batch):
/// a fixed binary layout of length-prefixed UTF-8 strings and the already-encoded body. Hyperion
/// would write type names for the header dictionary and the error on every message; this writes
/// only the fields, into one exactly-sized array. Nulls survive the trip (a malformed envelope stays
/// malformed, for the server to answer with 400); bytes that don't parse are refused here.
/// </summary>
/// <remarks>
/// The format version travels with every message, in its manifest (Akka sends it beside the bytes): version 1
/// is the bare letters ("Q", "R", "QB", "RB", "E", "EB"). A later layout gets manifests of its own ("Q2", …), and
/// a node reads every version it knows while it writes the newest one its peers read, so a change rolls out node
/// by node. A manifest it does not know is refused with a message that says to upgrade.
/// </remarks>
internal sealed class EnvelopeSerializer(ExtendedActorSystem system) : SerializerWithStringManifest(system)
{
    public const int Id = 4711;
    /// <summary>The envelope layout this node writes (and the newest it reads).</summary>
    public const int FormatVersion = 1;
    private const string RequestManifest = "Q";
    private const string ResponseManifest = "R";
    private const string RequestBatchManifest = "QB";
    private const string ResponseBatchManifest = "RB";
    private const string EventManifest = "E";
    private const string EventBatchManifest = "EB";

    public override int Identifier => Id;

    public override string Manifest(object o) => o switch
    {
        Request => RequestManifest,
        Response => ResponseManifest,
        RequestBatch => RequestBatchManifest,
        ResponseBatch => ResponseBatchManifest,
        Broker.Event => EventManifest,
        Broker.EventBatch => EventBatchManifest,
        _ => throw new ArgumentException($"{o.GetType()} is not an envelope", nameof(o)),
    };

    public override byte[] ToBinary(object obj)
    {
        switch (obj)
        {
            case Request q:
            {
                var writer = new Writer(new byte[Size(q)]);
                Write(ref writer, q);
                return writer.Done();
            }
            case Response r:
            {
                var writer = new Writer(new byte[Size(r)]);
                Write(ref writer, r);
                return writer.Done();
            }
            case Broker.Event e:
            {
                var writer = new Writer(new byte[Size(e)]);
                Write(ref writer, e);
                return writer.Done();
            }
            case Broker.EventBatch b:
            {
                var writer = new Writer(new byte[4 + b.Events.Sum(Size)]);
                writer.Int(b.Events.Count);
                foreach (var e in b.Events) Write(ref writer, e);
                return writer.Done();
            }
            case RequestBatch b:
            {
                var writer = new Writer(new byte[4 + b.Requests.Sum(Size)]);
                writer.Int(b.Requests.Count);
                foreach (var q in b.Requests) Write(ref writer, q);
                return writer.Done();
            }
            case ResponseBatch b:
            {
                var writer = new Writer(new byte[4 + b.Responses.Sum(Size)]);
                writer.Int(b.Responses.Count);
                foreach (var r in b.Responses) Write(ref writer, r);
                return writer.Done();
            }
            default:
                throw new ArgumentException($"{obj.GetType()} is not an envelope", nameof(obj));
        }
    }

    public override object FromBinary(byte[] bytes, string manifest)
    {
        var reader = new Reader(bytes);
        try
        {
            return manifest switch
            {
                RequestManifest => ReadRequest(ref reader),
                ResponseManifest => ReadResponse(ref reader),
                RequestBatchManifest => new RequestBatch(ReadMany(ref reader, static (ref Reader r) => ReadRequest(ref r))),
                EventManifest => ReadEvent(ref reader),
                EventBatchManifest => new Broker.EventBatch(ReadMany(ref reader, static (ref Reader r) => ReadEvent(ref r))),
                ResponseBatchManifest => new ResponseBatch(ReadMany(ref reader, static (ref Reader r) => ReadResponse(ref r))),
                _ => throw new System.Runtime.Serialization.SerializationException(
                    $"unknown envelope manifest '{manifest}': this node reads envelope format {FormatVersion}; the sender is newer: upgrade this node"),
            };
        }
        catch (Exception e) when (e is ArgumentOutOfRangeException or IndexOutOfRangeException or DecoderFallbackException)
        {
            throw new System.Runtime.Serialization.SerializationException("a malformed envelope: " + e.Message, e);
        }
    }

    private delegate T ReadOne<T>(ref Reader reader);

    private static List<T> ReadMany<T>(ref Reader reader, ReadOne<T> read)
    {
        var count = reader.Int();
        if (count < 0 || count > 100_000) throw new ArgumentOutOfRangeException(nameof(reader), $"a batch of {count}");
        var items = new List<T>(count);
        for (var i = 0; i < count; i++) items.Add(read(ref reader));
        return items;
    }

    private static int Size(Request q)
    {
        return Size(q.Id) + Size(q.Service) + Size(q.Endpoint) + Size(q.ContentType) + 4 + Size(q.Headers) + 8 + 1 + Size(q.Body);
    }

    private static void Write(ref Writer writer, Request q)
    {
        writer.String(q.Id);
        writer.String(q.Service);
        writer.String(q.Endpoint);
        writer.String(q.ContentType);
        Write(ref writer, q.Headers);
        writer.Long(q.Timeout.Ticks);
        writer.Bool(q.OneWay);
        writer.Bytes(q.Body);
    }

    private static Request ReadRequest(ref Reader r)
    {
        var (id, service, endpoint, contentType) = (r.String(), r.Name(), r.Name(), r.Name());
        var headers = ReadHeaders(ref r);
        var timeout = TimeSpan.FromTicks(r.Long());
        var oneWay = r.Bool();
        return new Request(id!, service!, endpoint!, r.Bytes()!, contentType!, headers!, timeout, oneWay);
    }

    private static int Size(Broker.Event e) => Size(e.Topic) + Size(e.Id) + Size(e.ContentType) + 4 + Size(e.Headers) + 8 + Size(e.Body);

    private static void Write(ref Writer writer, Broker.Event e)
    {
        writer.String(e.Topic);
        writer.String(e.Id);
        writer.String(e.ContentType);
        Write(ref writer, e.Headers);
        writer.Long(e.PublishedUtc.ToBinary());
        writer.Bytes(e.Body);
    }

    private static Broker.Event ReadEvent(ref Reader r)
    {
        var (topic, id, contentType) = (r.Name(), r.String(), r.Name());
        var headers = ReadHeaders(ref r);
        var published = DateTime.FromBinary(r.Long());
        return new Broker.Event(topic!, id!, contentType!, headers!, published, r.Bytes()!);
    }

    private static int Size(IReadOnlyDictionary<string, string>? headers)
    {
        var size = 0;
        if (headers is not null) foreach (var (k, v) in headers) size += Size(k) + Size(v);
        return size;
    }

    private static void Write(ref Writer writer, IReadOnlyDictionary<string, string>? headers)
    {
        writer.Int(headers?.Count ?? -1);
        if (headers is null) return;
        foreach (var (k, v) in headers)
        {
            writer.String(k);
            writer.String(v);
        }
    }

    private static IReadOnlyDictionary<string, string>? ReadHeaders(ref Reader r)
    {
        var count = r.Int();
        if (count < 0) return null;
        if (count == 0) return ImmutableDictionary<string, string>.Empty;
        if (count > 10_000) throw new ArgumentOutOfRangeException(nameof(r), $"{count} headers");
        var headers = new Dictionary<string, string>(count, StringComparer.Ordinal);
        for (var i = 0; i < count; i++) headers[r.String() ?? ""] = r.String() ?? "";
        return headers;
    }

    private static int Size(Response response) => response.Error is { } e
        ? Size(response.RequestId) + Size(response.Body) + 1 + Size(e.Id) + 4 + Size(e.Detail) + Size(e.Status)
        : Size(response.RequestId) + Size(response.Body) + 1;

    private static void Write(ref Writer writer, Response response)
    {
        var e = response.Error;
        writer.String(response.RequestId);
        writer.Bytes(response.Body);
        writer.Bool(e is not null);
        if (e is not null)
        {
            writer.String(e.Id);
            writer.Int(e.Code);
            writer.String(e.Detail);
            writer.String(e.Status);
        }
    }

    private static Response ReadResponse(ref Reader r)
    {
        var id = r.String();
        var body = r.Bytes();
        MicroError? error = r.Bool() ? new MicroError(r.String() ?? "", r.Int(), r.String() ?? "", r.String() ?? "") : null;
        return new Response(id!, body, error);
    }

    // A string or byte array: a 4-byte length (-1 for null), then the bytes.
    private static int Size(string? s) => 4 + (s is null ? 0 : Encoding.UTF8.GetByteCount(s));
    private static int Size(byte[]? b) => 4 + (b?.Length ?? 0);

    private ref struct Writer(byte[] buffer)
    {
        private readonly Span<byte> _span = buffer;
        private int _at;

        public void Int(int value) { BinaryPrimitives.WriteInt32LittleEndian(_span[_at..], value); _at += 4; }
        public void Long(long value) { BinaryPrimitives.WriteInt64LittleEndian(_span[_at..], value); _at += 8; }
        public void Bool(bool value) => _span[_at++] = value ? (byte)1 : (byte)0;

        public void String(string? value)
        {
            if (value is null) { Int(-1); return; }
            var length = Encoding.UTF8.GetBytes(value, _span[(_at + 4)..]);
            Int(length);
            _at += length;
        }

        public void Bytes(byte[]? value)
        {
            if (value is null) { Int(-1); return; }
            Int(value.Length);
            value.CopyTo(_span[_at..]);
            _at += value.Length;
        }

        public readonly byte[] Done() => buffer;
    }

    private ref struct Reader(byte[] buffer)
    {
        private readonly ReadOnlySpan<byte> _span = buffer;
        private int _at;

        public int Int() { var v = BinaryPrimitives.ReadInt32LittleEndian(_span[_at..]); _at += 4; return v; }
        public long Long() { var v = BinaryPrimitives.ReadInt64LittleEndian(_span[_at..]); _at += 8; return v; }
        public bool Bool() => _span[_at++] != 0;

        public string? String()
        {
            var length = Int();
            if (length < 0) return null;
            var s = Encoding.UTF8.GetString(_span.Slice(_at, length));
            _at += length;
            return s;
        }

        /// <summary>A string that repeats from message to message (<see cref="NameCache"/>).</summary>
        public string? Name()
        {
            var length = Int();
            if (length < 0) return null;
            var s = NameCache.Get(_span.Slice(_at, length));
            _at += length;
            return s;
        }

        public byte[]? Bytes()
        {
            var length = Int();
            if (length < 0) return null;
            var b = _span.Slice(_at, length).ToArray();
            _at += length;
            return b;
        }
    }
}
