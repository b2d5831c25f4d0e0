using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Event;
using Akka.Remote.Transport;
using Google.Protobuf;
using Micro.Actors.Service;
using Micro.Actors.Tests.Support;
using Micro.Actors.Transport;

namespace Micro.Actors.Tests.Transport;

/// <summary>
/// The socket transport: across real clusters (with a DotNetty node among them), against a hostile
/// peer, and one connection at a time (frames cut anywhere, a peer that stops reading, a close with
/// frames still queued).
/// </summary>
public sealed class SocketTransportTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Nodes_on_the_socket_transport_and_on_DotNetty_form_one_cluster_and_call_each_other()
    {
        await using var cluster = new TestCluster();
        var onSockets = await cluster.StartServiceAsync("echo", s => EchoHandler.Register(s));
        var onDotNetty = await cluster.StartServiceAsync("echo2", s => EchoHandler.Register(s),
            o => o.Config = TestCluster.FastConfig + "\nmicro.transport = dot-netty");

        Assert.Equal(new[] { SocketTransport.ConfigPath }, onSockets.System.Settings.Config.GetStringList("akka.remote.enabled-transports"));
        Assert.Equal(new[] { "akka.remote.dot-netty.tcp" }, onDotNetty.System.Settings.Config.GetStringList("akka.remote.enabled-transports"));
        await TestCluster.WaitForNodesAsync(onSockets, "echo2", 1);
        await TestCluster.WaitForNodesAsync(onDotNetty, "echo", 1);

        var fromSockets = await onSockets.Client.CallAsync<Pong>("echo2", "Echo.Ping", new Ping("to DotNetty"));
        var fromDotNetty = await onDotNetty.Client.CallAsync<Pong>("echo", "Echo.Ping", new Ping("to sockets"));
        Assert.Equal(("to DotNetty", onDotNetty.Address), (fromSockets.Text, fromSockets.Node));
        Assert.Equal(("to sockets", onSockets.Address), (fromDotNetty.Text, fromDotNetty.Node));
    }

    [Fact]
    public async Task A_node_behind_NAT_advertises_its_public_hostname_and_is_reached_there()
    {
        await using var cluster = new TestCluster();
        var seed = await cluster.StartServiceAsync("echo", s => EchoHandler.Register(s),
            o => o.Config = TestCluster.FastConfig + "\nakka.remote.dot-netty.tcp.public-hostname = localhost");
        Assert.Equal("localhost", Akka.Cluster.Cluster.Get(seed.System).SelfAddress.Host);

        var client = await cluster.StartClientAsync(); // joins through "localhost:<port>"
        await TestCluster.WaitForNodesAsync(client, "echo", 1);
        var pong = await client.Client.CallAsync<Pong>("echo", "Echo.Ping", new Ping("by name"));
        Assert.Equal(("by name", seed.Address), (pong.Text, pong.Node));
    }

    [Fact]
    public async Task A_peer_that_announces_a_frame_over_the_maximum_is_cut_off_and_the_node_keeps_serving()
    {
        await using var cluster = new TestCluster();
        var server = await cluster.StartServiceAsync("echo", s => EchoHandler.Register(s));
        var client = await cluster.StartClientAsync();
        await TestCluster.WaitForNodesAsync(client, "echo", 1);

        var port = Akka.Cluster.Cluster.Get(server.System).SelfAddress.Port!.Value;
        using var hostile = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await hostile.ConnectAsync(IPAddress.Loopback, port);
        var header = new byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(header, 64 * 1024 * 1024); // 64 MiB against the 128000 b default
        await hostile.SendAsync(header, SocketFlags.None);

        // The node closes the connection: the read ends (0 bytes, or a reset) well before the deadline.
        using var timeout = new CancellationTokenSource(Deadline);
        await ReadUntilClosedAsync(hostile, timeout.Token);

        var pong = await client.Client.CallAsync<Pong>("echo", "Echo.Ping", new Ping("still here"));
        Assert.Equal("still here", pong.Text);
    }

    private const string HostileConfig = TestCluster.FastConfig + """

        micro.socket.handshake-timeout = 1s
        micro.socket.max-handshakes = 8
        """;

    /// <summary>A service and a client on the socket transport, the service's handshakes bounded tight, its warnings captured.</summary>
    private static async Task<(MicroService Server, MicroService Client, int Port, AkkaLogs Logs)> HostileSetupAsync(TestCluster cluster)
    {
        var server = await cluster.StartServiceAsync("echo", s => EchoHandler.Register(s), o => o.Config = HostileConfig);
        var client = await cluster.StartClientAsync();
        await TestCluster.WaitForNodesAsync(client, "echo", 1);
        return (server, client, Akka.Cluster.Cluster.Get(server.System).SelfAddress.Port!.Value, AkkaLogs.Capture(server.System));
    }

    [Fact]
    public async Task A_raw_client_that_sends_garbage_is_closed_with_a_log_line_and_never_reaches_Akka()
    {
        await using var cluster = new TestCluster();
        var (server, client, port, logs) = await HostileSetupAsync(cluster);

        using var hostile = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await hostile.ConnectAsync(IPAddress.Loopback, port);
        // A frame of a plausible size holding no Akka message: HTTP, say.
        await hostile.SendAsync(Frame("GET / HTTP/1.1\r\nHost: x\r\n\r\n"u8.ToArray()), SocketFlags.None);
        using var timeout = new CancellationTokenSource(Deadline);
        await ReadUntilClosedAsync(hostile, timeout.Token);

        await Eventually.TrueAsync(() => logs.Containing("is not an Akka association").Count == 1, Deadline, "the log line");
        Assert.Empty(logs.Containing("AkkaProtocol")); // Akka's protocol layer never saw it
        Assert.Equal("still here", (await client.Client.CallAsync<Pong>("echo", "Echo.Ping", new Ping("still here"))).Text);
        Assert.Equal(2, Akka.Cluster.Cluster.Get(server.System).State.Members.Count);
    }

    [Fact]
    public async Task A_connection_that_never_finishes_its_handshake_is_closed_after_the_handshake_timeout()
    {
        await using var cluster = new TestCluster();
        var (_, client, port, logs) = await HostileSetupAsync(cluster);

        using var halfOpen = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await halfOpen.ConnectAsync(IPAddress.Loopback, port);
        await halfOpen.SendAsync(new byte[] { 40, 0 }, SocketFlags.None); // half a frame header, then nothing
        var watch = Stopwatch.StartNew();
        using var timeout = new CancellationTokenSource(Deadline);
        await ReadUntilClosedAsync(halfOpen, timeout.Token);
        Assert.InRange(watch.Elapsed, TimeSpan.FromSeconds(0.5), TimeSpan.FromSeconds(5)); // micro.socket.handshake-timeout = 1s

        await Eventually.TrueAsync(() => logs.Containing("did not associate within 1 s").Count == 1, Deadline, "the log line");
        Assert.Equal("still here", (await client.Client.CallAsync<Pong>("echo", "Echo.Ping", new Ping("still here"))).Text);
    }

    [Fact]
    public async Task A_client_that_opens_connections_in_a_loop_is_held_to_max_handshakes_and_real_peers_keep_calling()
    {
        await using var cluster = new TestCluster();
        var (server, client, port, logs) = await HostileSetupAsync(cluster);

        // 200 connections that never say anything, opened as fast as the node accepts them; calls go on meanwhile.
        var opened = new List<Socket>();
        try
        {
            var calls = Task.Run(async () =>
            {
                for (var i = 0; i < 50; i++)
                    Assert.Equal($"{i}", (await client.Client.CallAsync<Pong>("echo", "Echo.Ping", new Ping($"{i}"))).Text);
            });
            for (var i = 0; i < 200; i++)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                opened.Add(socket);
                await socket.ConnectAsync(IPAddress.Loopback, port);
            }
            await calls.WaitAsync(Deadline);

            // Past 8 at once the node closes them as they come: most of the 200 are closed at once, not after the timeout.
            await Eventually.TrueAsync(() => logs.Containing("micro.socket.max-handshakes").Count == 1, Deadline, "the log line, once");
            var closedAtOnce = 0;
            foreach (var socket in opened)
                if (socket.Poll(0, SelectMode.SelectRead) && socket.Available == 0) closedAtOnce++;
            Assert.True(closedAtOnce >= 150, $"{closedAtOnce} of 200 were closed at once");
            // The ones it held time out (said once, not once per connection).
            await Eventually.TrueAsync(() => logs.Containing("did not associate").Count == 1, Deadline, "the held ones timed out");
            await Eventually.TrueAsync(() => opened.All(s => s.Poll(0, SelectMode.SelectRead) && s.Available == 0), Deadline, "every connection of the loop closed");
        }
        finally
        {
            foreach (var socket in opened) socket.Dispose();
        }
        Assert.Equal("after", (await client.Client.CallAsync<Pong>("echo", "Echo.Ping", new Ping("after"))).Text);
        Assert.Equal(2, Akka.Cluster.Cluster.Get(server.System).State.Members.Count);
    }

    [Fact]
    public async Task Frames_cut_anywhere_by_the_network_arrive_whole_and_in_order_and_a_close_is_reported()
    {
        using var pair = await SocketPair.OpenAsync();
        var events = pair.Read(pair.Server, maxFrame: 128_000);

        // Frames bigger than the read buffer (64 KiB) before and after many small ones (an empty one
        // too), sent in 7-byte pieces with Nagle off, so headers and bodies are cut everywhere.
        pair.Client.NoDelay = true;
        var payloads = new List<byte[]> { Bytes(100_000, 1) };
        payloads.AddRange(Enumerable.Range(0, 50).Select(i => Bytes(i, (byte)i)));
        payloads.Add(Bytes(120_000, 2));
        payloads.Add(Bytes(3, 3));
        var wire = payloads.SelectMany(Frame).ToArray();
        for (var at = 0; at < wire.Length; at += 7)
            await pair.Client.SendAsync(wire.AsMemory(at, Math.Min(7, wire.Length - at)), SocketFlags.None);
        pair.Client.Shutdown(SocketShutdown.Send);

        await Eventually.TrueAsync(() => events.Closed, Deadline, "the disassociation");
        Assert.Equal(payloads.Count, events.Payloads.Count);
        Assert.All(payloads.Zip(events.Payloads), p => Assert.Equal(p.First, p.Second));
    }

    [Fact]
    public async Task Writes_to_a_peer_that_stops_reading_never_block_and_all_arrive_in_order_once_it_reads()
    {
        using var pair = await SocketPair.OpenAsync();
        var association = pair.Associate(pair.Client, maxFrame: 128_000);

        // The peer reads nothing: the kernel's buffers fill within the first writes, the rest queue.
        var written = new List<byte[]>();
        var slowest = TimeSpan.Zero;
        await Task.Run(() => // a write that blocked would fail the test by the deadline, not hang it
        {
            for (var i = 0; i < 200; i++)
            {
                var payload = Bytes(64 * 1024, (byte)i);
                var started = Stopwatch.GetTimestamp();
                Assert.True(association.Write(ByteString.CopyFrom(payload)), $"write {i} was refused");
                slowest = TimeSpan.FromTicks(Math.Max(slowest.Ticks, Stopwatch.GetElapsedTime(started).Ticks));
                written.Add(payload);
            }
        }).WaitAsync(Deadline);
        Assert.True(slowest < TimeSpan.FromSeconds(1), $"a write took {slowest.TotalMilliseconds:0} ms");

        var received = await ReadFramesAsync(pair.Server, written.Count);
        Assert.All(written.Zip(received), p => Assert.Equal(p.First, p.Second));
    }

    [Fact]
    public async Task Past_its_send_budget_a_connection_refuses_payloads_but_not_control_messages_and_lists_its_peer_until_it_reads()
    {
        using var pair = await SocketPair.OpenAsync();
        var backlog = new Backlog();
        const long budget = 256 * 1024;
        var association = pair.Associate(pair.Client, maxFrame: 128_000, sendBudget: budget, backlog: backlog);
        var peer = $"127.0.0.1:{((IPEndPoint)pair.Client.RemoteEndPoint!).Port}";

        // The peer reads nothing: payloads are taken past the budget (a burst), up to four budgets, then refused.
        var accepted = new List<byte[]>();
        for (var i = 0; i < 100 && association.Write(ByteString.CopyFrom(Payload(i))); i++) accepted.Add(Payload(i));
        Assert.InRange(accepted.Count, 2, 99);
        Assert.InRange(association.QueuedBytes, budget, 4 * budget + 64 * 1024 + 4);
        // Listed once nothing has been written for a moment: a busy peer that still reads is not.
        await Eventually.TrueAsync(() => backlog.IsOver(peer), Deadline, "the peer listed while it is not reading");
        Assert.False(association.Write(ByteString.CopyFrom(Payload(1))), "a payload past the budget is refused");
        // A control message (an Akka instruction: field 2 of the protocol message) still goes: heartbeats never starve.
        var heartbeat = new byte[] { 0x12, 0x02, 0x08, 0x03 };
        Assert.True(association.Write(ByteString.CopyFrom(heartbeat)));

        // Once the peer reads, everything taken arrives in order, the peer is unlisted and payloads are taken again.
        var received = await ReadFramesAsync(pair.Server, accepted.Count + 1);
        Assert.All(accepted.Zip(received), p => Assert.Equal(p.First, p.Second));
        Assert.Equal(heartbeat, received[^1]);
        await Eventually.TrueAsync(() => !backlog.IsOver(peer), Deadline, "the peer unlisted");
        Assert.True(association.Write(ByteString.CopyFrom(Payload(7))));
        Assert.Equal(Payload(7), (await ReadFramesAsync(pair.Server, 1))[0]);

        static byte[] Payload(int i)
        {
            var payload = Bytes(64 * 1024, (byte)i);
            payload[0] = 0x0A; // field 1 of Akka's protocol message: a payload, not an instruction
            return payload;
        }
    }

    [Fact]
    public async Task Writes_from_many_threads_at_once_all_arrive_each_threads_in_its_order()
    {
        using var pair = await SocketPair.OpenAsync();
        var association = pair.Associate(pair.Client, maxFrame: 128_000);
        const int threads = 4, each = 2_000;
        var reading = ReadFramesAsync(pair.Server, threads * each);
        await Task.WhenAll(Enumerable.Range(0, threads).Select(t => Task.Run(() =>
        {
            for (var i = 0; i < each; i++)
            {
                var payload = new byte[8 + i % 300]; // sizes vary, so some sends are partial
                BinaryPrimitives.WriteInt32LittleEndian(payload, t);
                BinaryPrimitives.WriteInt32LittleEndian(payload.AsSpan(4), i);
                Assert.True(association.Write(ByteString.CopyFrom(payload)));
            }
        })));

        var received = await reading;
        var byThread = received.GroupBy(f => BinaryPrimitives.ReadInt32LittleEndian(f))
            .ToDictionary(g => g.Key, g => g.Select(f => BinaryPrimitives.ReadInt32LittleEndian(f.AsSpan(4))).ToList());
        Assert.Equal(threads, byThread.Count);
        Assert.All(byThread.Values, seq => Assert.Equal(Enumerable.Range(0, each), seq));
    }

    [Fact]
    public async Task A_frame_of_exactly_the_maximum_arrives_and_one_byte_more_closes_the_connection()
    {
        using var pair = await SocketPair.OpenAsync();
        var events = pair.Read(pair.Server, maxFrame: 1_000);

        await pair.Client.SendAsync(Frame(Bytes(1_000, 5)), SocketFlags.None);
        await Eventually.TrueAsync(() => events.Payloads.Count == 1, Deadline, "the frame of 1,000 bytes");
        Assert.False(events.Closed);

        await pair.Client.SendAsync(Frame(Bytes(1_001, 6)), SocketFlags.None);
        await Eventually.TrueAsync(() => events.Closed, Deadline, "the disassociation");
        Assert.Single(events.Payloads);
        using var timeout = new CancellationTokenSource(Deadline);
        await ReadUntilClosedAsync(pair.Client, timeout.Token);
    }

    [Fact]
    public async Task Connecting_to_a_port_nobody_listens_on_or_after_shutdown_is_an_InvalidAssociationException()
    {
        using var system = ActorSystem.Create("t", "akka.loglevel = WARNING");
        var transport = new SocketTransport(system, Akka.Configuration.ConfigurationFactory.ParseString("hostname = \"127.0.0.1\", port = 0"));
        await transport.Listen();
        using var dead = new DeadPort();

        var watch = Stopwatch.StartNew();
        var refused = await Assert.ThrowsAsync<InvalidAssociationException>(() => transport.Associate(new Address("akka.tcp", "t", "127.0.0.1", dead.Port)));
        Assert.Contains($"127.0.0.1:{dead.Port}", refused.Message);
        Assert.True(watch.Elapsed < Deadline, $"took {watch.Elapsed}");

        Assert.True(await transport.Shutdown());
        await Assert.ThrowsAsync<InvalidAssociationException>(() => transport.Associate(new Address("akka.tcp", "t", "127.0.0.1", dead.Port)));
    }

    [Fact]
    public async Task A_close_with_frames_still_queued_sends_them_first()
    {
        using var pair = await SocketPair.OpenAsync();
        // A flush wait far past the deadline: only the half-close after the queue can end the read below in time.
        var association = pair.Associate(pair.Client, maxFrame: 128_000, flushWait: TimeSpan.FromSeconds(60));
        var accepted = new List<byte[]>();
        for (var i = 0; i < 200; i++) // more than the kernel buffers: the tail stays queued
        {
            var payload = Bytes(32 * 1024, (byte)i);
            Assert.True(association.Write(ByteString.CopyFrom(payload)));
            accepted.Add(payload);
        }
        association.Disassociate("test", NoLogger.Instance);
        Assert.False(association.Write(ByteString.CopyFrom(Bytes(10, 1))), "a closing connection takes no new writes");

        var received = await ReadFramesAsync(pair.Server, accepted.Count);
        Assert.All(accepted.Zip(received), p => Assert.Equal(p.First, p.Second));
        using var timeout = new CancellationTokenSource(Deadline);
        await ReadUntilClosedAsync(pair.Server, timeout.Token);
    }

    private static byte[] Bytes(int length, byte seed) => Enumerable.Range(0, length).Select(i => (byte)(seed + i)).ToArray();

    private static byte[] Frame(byte[] payload)
    {
        var frame = new byte[4 + payload.Length];
        BinaryPrimitives.WriteInt32LittleEndian(frame, payload.Length);
        payload.CopyTo(frame, 4);
        return frame;
    }

    /// <summary>Reads until the other side closes (a reset counts as closed too); <paramref name="cancel"/> failing it is the test's failure.</summary>
    private static async Task ReadUntilClosedAsync(Socket socket, CancellationToken cancel)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (await socket.ReceiveAsync(buffer, SocketFlags.None, cancel) > 0) { }
        }
        catch (SocketException) { }
    }

    private static async Task<List<byte[]>> ReadFramesAsync(Socket socket, int count)
    {
        using var timeout = new CancellationTokenSource(Deadline);
        var frames = new List<byte[]>();
        var header = new byte[4];
        while (frames.Count < count)
        {
            await ReadExactlyAsync(socket, header, timeout.Token);
            var payload = new byte[BinaryPrimitives.ReadInt32LittleEndian(header)];
            await ReadExactlyAsync(socket, payload, timeout.Token);
            frames.Add(payload);
        }
        return frames;
    }

    private static async Task ReadExactlyAsync(Socket socket, byte[] into, CancellationToken cancel)
    {
        for (var at = 0; at < into.Length;)
        {
            var n = await socket.ReceiveAsync(into.AsMemory(at), SocketFlags.None, cancel);
            if (n == 0) throw new EndOfStreamException($"closed after {at} of {into.Length} bytes");
            at += n;
        }
    }

    /// <summary>What a connection reported to Akka's protocol layer.</summary>
    private sealed class Events : IHandleEventListener
    {
        public ConcurrentQueue<byte[]> Queue { get; } = new();
        public List<byte[]> Payloads => [.. Queue];
        public bool Closed { get; private set; }

        public void Notify(IHandleEvent ev)
        {
            if (ev is InboundPayload p) Queue.Enqueue(p.Payload.ToByteArray());
            else if (ev is Disassociated) Closed = true;
        }
    }

    /// <summary>Two connected sockets on loopback with small kernel buffers, so a few writes fill them.</summary>
    private sealed class SocketPair : IDisposable
    {
        public required Socket Client { get; init; }
        public required Socket Server { get; init; }
        private readonly List<SocketAssociation> _associations = [];

        public static async Task<SocketPair> OpenAsync()
        {
            using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            listener.Listen(1);
            var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 16 * 1024, SendBufferSize = 16 * 1024 };
            var accept = listener.AcceptAsync();
            await client.ConnectAsync(listener.LocalEndPoint!);
            var server = await accept;
            server.ReceiveBufferSize = 16 * 1024;
            server.SendBufferSize = 16 * 1024;
            return new SocketPair { Client = client, Server = server };
        }

        /// <summary>An association on <paramref name="socket"/> whose reads are recorded.</summary>
        public Events Read(Socket socket, int maxFrame)
        {
            var events = new Events();
            Associate(socket, maxFrame).ReadHandlerSource.SetResult(events);
            return events;
        }

        /// <summary>An outbound association on <paramref name="socket"/> (its peer is known: no ASSOCIATE expected first).</summary>
        public SocketAssociation Associate(Socket socket, int maxFrame, TimeSpan? flushWait = null, long sendBudget = long.MaxValue, Backlog? backlog = null)
        {
            var local = (IPEndPoint)socket.LocalEndPoint!;
            var remote = (IPEndPoint)socket.RemoteEndPoint!;
            var limits = new ConnectionLimits(maxFrame, flushWait ?? TimeSpan.FromSeconds(5), sendBudget, TimeSpan.FromSeconds(10));
            var association = new SocketAssociation(new Address("tcp", "t", "127.0.0.1", local.Port), new Address("tcp", "t", "127.0.0.1", remote.Port),
                socket, new NetworkStream(socket, ownsSocket: false), limits, NoLogger.Instance, $"127.0.0.1:{remote.Port}", backlog, null, _ => { });
            association.Start();
            _associations.Add(association);
            return association;
        }

        public void Dispose()
        {
            foreach (var a in _associations) a.Close();
            Client.Dispose();
            Server.Dispose();
        }
    }
}
