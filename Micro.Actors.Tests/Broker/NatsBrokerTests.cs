using System.Collections.Concurrent;
using Micro.Actors.Broker;
using Micro.Actors.Config;
using Micro.Actors.Errors;
using Micro.Actors.Nats;
using Micro.Actors.Service;
using Micro.Actors.Tests.Support;
using NATS.Client.Core;
using NATS.Client.JetStream;
using Micro.Actors.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Xunit;

namespace Micro.Actors.Tests.Broker;

public sealed record Order(int Number, string Item);

/// <summary>The NATS JetStream broker against a real nats-server (JetStream on, a store of its own, a free port).</summary>
public sealed class NatsBrokerTests(Xunit.Abstractions.ITestOutputHelper output) : IAsyncLifetime
{
    private readonly System.Diagnostics.Stopwatch _watch = System.Diagnostics.Stopwatch.StartNew();
    private void Mark(string what) => output.WriteLine($"{_watch.Elapsed.TotalSeconds:0.00} s: {what}");
    private readonly NatsServer _nats = NatsServer.Start();
    private readonly TestCluster _cluster = new();
    private static readonly TimeSpan Soon = TimeSpan.FromSeconds(15);

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _cluster.DisposeAsync();
        _nats.Dispose();
    }

    /// <summary>micro.nats for a test: quick retries and ack waits.</summary>
    private string Hocon(string more = "") => $"""
        micro.broker = nats
        micro.nats.url = "{_nats.Url}"
        micro.nats.backoff = [100ms, 200ms]
        micro.nats.max-attempts = 3
        micro.nats.handler-timeout = 2s
        micro.nats.connect-timeout = 2s
        micro.nats.publish-timeout = 2s
        {more}
        """;

    private Task<MicroService> Node(string name, Action<MicroService>? register = null, string more = "", Action<MicroServiceOptions>? configure = null) =>
        _cluster.StartServiceAsync(name, register, o =>
        {
            o.Config = TestCluster.FastConfig + "\n" + Hocon(more);
            o.UseNats();
            configure?.Invoke(o);
        });

    private static async Task<long> StoredAsync(string url, string stream)
    {
        await using var nats = new NatsConnection(NatsOpts.Default with { Url = url });
        var js = new NatsJSContext(nats);
        return (long)(await js.GetStreamAsync(stream)).Info.State.Messages;
    }

    [Fact]
    public async Task A_queue_group_gets_each_event_once_a_plain_subscriber_every_one_and_metadata_travels()
    {
        var (workers, audit) = (new ConcurrentBag<(string Node, int Number)>(), new ConcurrentBag<int>());
        var headers = new ConcurrentBag<string>();
        var a = await Node("orders-a", s => s.Subscribe<Order>("orders", (o, _) => { workers.Add(("a", o.Number)); return Task.CompletedTask; }, queue: "billing"));
        await Node("orders-b", s => s.Subscribe<Order>("orders", (o, _) => { workers.Add(("b", o.Number)); return Task.CompletedTask; }, queue: "billing"));
        await Node("audit", s => s.Subscribe<Order>("orders", (o, e) =>
        {
            audit.Add(o.Number);
            if (e.Headers.TryGetValue("tenant", out var t)) headers.Add(t);
            return Task.CompletedTask;
        }));

        for (var i = 1; i <= 40; i++)
            await a.Broker.PublishAsync("orders", new Order(i, "book"), new PublishOptions { Headers = new Dictionary<string, string> { ["tenant"] = "t1" } });

        await Eventually.TrueAsync(() => workers.Count >= 40 && audit.Count >= 40, Soon, "40 events at the queue group and at the audit subscriber");
        await Task.Delay(300); // nothing more may come
        Assert.Equal(Enumerable.Range(1, 40), workers.Select(w => w.Number).Order());
        Assert.Equal(Enumerable.Range(1, 40), audit.Order());
        Assert.Contains(workers, w => w.Node == "a");
        Assert.Contains(workers, w => w.Node == "b");
        Assert.All(headers, h => Assert.Equal("t1", h));
        Assert.Equal(40, headers.Count);
        Assert.Equal(40, await StoredAsync(_nats.Url, "MICRO_orders"));
    }

    [Fact]
    public async Task A_failing_handler_gets_the_event_again_and_after_max_attempts_it_is_a_dead_letter_with_the_reason()
    {
        var attempts = new ConcurrentDictionary<int, int>();
        var dead = new ConcurrentBag<(int Number, EventContext Context)>();
        var node = await Node("picky", s => s.Subscribe<Order>("payments", (o, _) =>
        {
            var n = attempts.AddOrUpdate(o.Number, 1, (_, v) => v + 1);
            if (o.Number == 2) throw new InvalidOperationException("card declined");
            if (o.Number == 3 && n == 1) throw new InvalidOperationException("a blip");
            return Task.CompletedTask;
        }, queue: "charge"));
        await node.Broker.SubscribeAsync<Order>(NatsNames.DeadLetterTopic("payments"), (o, e) => { dead.Add((o.Number, e)); return Task.CompletedTask; },
            new SubscribeOptions { From = StartPosition.All }, CancellationToken.None);

        foreach (var i in new[] { 1, 2, 3 }) await node.Broker.PublishAsync("payments", new Order(i, "x"));

        await Eventually.TrueAsync(() => !dead.IsEmpty && attempts.GetValueOrDefault(3) >= 2 && attempts.ContainsKey(1), Soon, "the dead letter and the retried event");
        Assert.Equal(1, attempts[1]);
        Assert.Equal(2, attempts[3]); // failed once, then handled
        Assert.Equal(3, attempts[2]); // micro.nats.max-attempts
        var (number, context) = Assert.Single(dead);
        Assert.Equal(2, number);
        Assert.Contains("card declined", context.Headers[NatsBroker.DeadReasonHeader]);
        Assert.Equal("payments", context.Headers[NatsBroker.DeadTopicHeader]);
        Assert.Equal("charge", context.Headers[NatsBroker.DeadQueueHeader]);
        Assert.Equal("3", context.Headers[NatsBroker.DeadAttemptsHeader]);
        Assert.Equal(4, node.Subscriptions.Single().Failed);
    }

    [Fact]
    public async Task A_queue_groups_position_survives_the_restart_of_every_member_and_a_new_group_starts_where_it_is_told()
    {
        var first = new ConcurrentBag<int>();
        var publisher = await _cluster.StartClientAsync(o => { o.Config = TestCluster.FastConfig + "\n" + Hocon(); o.UseNats(); }); // the seed
        var member = await Node("stock", s => s.Subscribe<Order>("stock", (o, _) => { first.Add(o.Number); return Task.CompletedTask; }, queue: "warehouse"));
        for (var i = 1; i <= 5; i++) await publisher.Broker.PublishAsync("stock", new Order(i, "x"));
        await Eventually.TrueAsync(() => first.Count == 5, Soon, "the first five");
        await member.StopAsync();

        for (var i = 6; i <= 10; i++) await publisher.Broker.PublishAsync("stock", new Order(i, "x")); // while no member runs
        var again = new ConcurrentBag<int>();
        await Node("stock", s => s.Subscribe<Order>("stock", (o, _) => { again.Add(o.Number); return Task.CompletedTask; }, queue: "warehouse"));
        await Eventually.TrueAsync(() => again.Count == 5, Soon, "the five published while the group was down");
        Assert.Equal([6, 7, 8, 9, 10], again.Order());

        var all = new ConcurrentBag<int>();
        var since = new ConcurrentBag<int>();
        var fresh = new ConcurrentBag<int>();
        await using var fromAll = await publisher.Broker.SubscribeAsync<Order>("stock", (o, _) => { all.Add(o.Number); return Task.CompletedTask; },
            new SubscribeOptions { Queue = "replay", From = StartPosition.All }, CancellationToken.None);
        await using var fromNow = await publisher.Broker.SubscribeAsync<Order>("stock", (o, _) => { fresh.Add(o.Number); return Task.CompletedTask; },
            new SubscribeOptions { Queue = "fresh" }, CancellationToken.None);
        await using var fromTime = await publisher.Broker.SubscribeAsync<Order>("stock", (o, _) => { since.Add(o.Number); return Task.CompletedTask; },
            new SubscribeOptions { From = StartPosition.Since(DateTime.UtcNow.AddHours(-1)) }, CancellationToken.None);
        await Eventually.TrueAsync(() => all.Count == 10 && since.Count == 10, Soon, "every retained event from the start and since an hour ago");
        await publisher.Broker.PublishAsync("stock", new Order(11, "x"));
        await Eventually.TrueAsync(() => fresh.Count == 1 && all.Count == 11, Soon, "the new event at the fresh group");
        Assert.Equal([11], fresh);
    }

    [Fact]
    public async Task A_publish_retried_with_its_id_is_stored_once_and_fire_and_forget_is_stored_too()
    {
        var got = new ConcurrentBag<int>();
        var node = await Node("dedup", s => s.Subscribe<Order>("dedup", (o, _) => { got.Add(o.Number); return Task.CompletedTask; }));
        await node.Broker.PublishAsync("dedup", new Order(1, "x"), new PublishOptions { Id = "order-1" });
        await node.Broker.PublishAsync("dedup", new Order(1, "x"), new PublishOptions { Id = "order-1" });
        await node.Broker.PublishAsync("dedup", new Order(2, "x"), new PublishOptions { FireAndForget = true });
        await Eventually.TrueAsync(() => got.Count == 2, Soon, "two events");
        await Task.Delay(300);
        Assert.Equal([1, 2], got.Order());
        Assert.Equal(2, await StoredAsync(_nats.Url, "MICRO_dedup"));
    }

    [Fact]
    public async Task An_oversized_event_is_a_413_at_the_publisher_and_one_that_does_not_read_is_a_dead_letter_with_the_reason()
    {
        var dead = new ConcurrentBag<EventContext>();
        var got = new ConcurrentBag<Order>();
        var node = await Node("bad-input", s => s.Subscribe<Order>("bad", (o, _) => { got.Add(o); return Task.CompletedTask; }, queue: "q"));
        await node.Broker.SubscribeAsync<byte[]>(NatsNames.DeadLetterTopic("bad"), (_, e) => { dead.Add(e); return Task.CompletedTask; },
            new SubscribeOptions { From = StartPosition.All }, CancellationToken.None);

        var big = await Assert.ThrowsAsync<MicroException>(() => node.Broker.PublishAsync("bad", new Order(1, new string('x', 2_000_000))));
        Assert.Equal(413, big.Error.Code);
        Assert.Contains("max_payload", big.Error.Detail);

        await node.Broker.PublishAsync("bad", "not json at all"u8.ToArray(), new PublishOptions { MessageType = nameof(Order) });
        await node.Broker.PublishAsync("bad", new Order(2, "fine"));
        await Eventually.TrueAsync(() => !dead.IsEmpty && !got.IsEmpty, Soon, "the dead letter and the good event");
        var letter = Assert.Single(dead);
        Assert.Contains("does not read", letter.Headers[NatsBroker.DeadReasonHeader]);
        Assert.Equal(2, Assert.Single(got).Number);
        Assert.Equal(2, await StoredAsync(_nats.Url, "MICRO_bad")); // the oversized one never went
    }

    [Fact]
    public async Task A_server_that_cannot_be_reached_at_start_fails_the_start_naming_its_url()
    {
        using var dead = new DeadPort();
        var started = DateTime.UtcNow;
        var error = await Assert.ThrowsAsync<MicroException>(() => _cluster.StartServiceAsync("lost", s => s.Subscribe<Order>("x", (_, _) => Task.CompletedTask), o =>
        {
            o.Config = TestCluster.FastConfig + $"\nmicro.broker = nats\nmicro.nats.url = \"nats://127.0.0.1:{dead.Port}\"\nmicro.nats.connect-timeout = 1s";
            o.UseNats();
        }));
        Assert.Equal(503, error.Error.Code);
        Assert.Contains($"nats://127.0.0.1:{dead.Port}", error.Error.Detail);
        Assert.Contains("micro.nats.url", error.Error.Detail);
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(10), $"took {DateTime.UtcNow - started}");
    }

    [Fact]
    public async Task While_the_server_is_down_publishes_fail_with_503_and_after_its_restart_nothing_acked_is_lost_and_subscriptions_resume()
    {
        var got = new ConcurrentDictionary<int, int>();
        var node = await Node("outage", s => s.Subscribe<Order>("outage", (o, _) => { got.AddOrUpdate(o.Number, 1, (_, v) => v + 1); return Task.CompletedTask; }, queue: "q"));
        for (var i = 1; i <= 20; i++) await node.Broker.PublishAsync("outage", new Order(i, "x"));
        await Eventually.TrueAsync(() => got.Count == 20, Soon, "20 events before the outage");

        Mark("before kill");
        _nats.Kill();
        var failed = await Assert.ThrowsAsync<MicroException>(() => node.Broker.PublishAsync("outage", new Order(99, "x")));
        Assert.Equal(503, failed.Error.Code);
        Assert.Contains(_nats.Url, failed.Error.Detail);
        var fresh = await Assert.ThrowsAsync<MicroException>(() => node.Broker.PublishAsync("outage-new", new Order(1, "x"))); // its stream cannot be made now
        Assert.Equal(503, fresh.Error.Code);
        Assert.Contains("MICRO_outage-new", fresh.Error.Detail);

        Mark("publish failed");
        _nats.Start();
        Mark("restarted");
        // The store kept every acked event. The publish that got 503 may be stored too: its bytes may still go out once
        // the connection is back (why the 503 says to publish again with the same id).
        Assert.InRange(await StoredAsync(_nats.Url, "MICRO_outage"), 20, 21);
        await Eventually.TrueAsync(async () =>
        {
            try { await node.Broker.PublishAsync("outage", new Order(21, "x"), new PublishOptions { Id = "after-21" }); return true; }
            catch (MicroException) { return false; } // still reconnecting
        }, TimeSpan.FromSeconds(30), "a publish after the restart");
        Mark("published after");
        await Eventually.TrueAsync(() => got.ContainsKey(21), TimeSpan.FromSeconds(30), "the subscription to resume");
        Mark("resumed");
        await node.Broker.PublishAsync("outage-new", new Order(2, "x")); // the stream is made once the server is back
        Assert.Equal(1, await StoredAsync(_nats.Url, "MICRO_outage-new"));
        Assert.Equal(Enumerable.Range(1, 21), got.Keys.Where(k => k != 99).Order());
    }

    [Fact]
    public async Task A_stream_that_exists_with_other_settings_fails_the_start_naming_the_setting()
    {
        await Node("first", s => s.Subscribe<Order>("kept", (_, _) => Task.CompletedTask), more: "micro.nats.stream.max-age = 1h");
        var error = await Assert.ThrowsAsync<MicroConfigException>(() => Node("second", s => s.Subscribe<Order>("kept", (_, _) => Task.CompletedTask), more: "micro.nats.stream.max-age = 2h"));
        Assert.Equal("micro.nats.stream.max-age", error.Setting);
        Assert.Contains("MICRO_kept", error.Message);
    }

    [Fact]
    public async Task A_publish_through_nats_and_its_delivery_are_one_trace_of_producer_and_consumer_spans()
    {
        var spans = new ConcurrentQueue<System.Diagnostics.Activity>();
        using var listener = new System.Diagnostics.ActivityListener
        {
            ShouldListenTo = s => s.Name == Micro.Actors.Observability.Telemetry.SourceName,
            Sample = (ref System.Diagnostics.ActivityCreationOptions<System.Diagnostics.ActivityContext> _) => System.Diagnostics.ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = spans.Enqueue,
        };
        System.Diagnostics.ActivitySource.AddActivityListener(listener);
        var handled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await Node("traced-sub", s => s.Subscribe<Order>("traced", (_, _) => { handled.TrySetResult(); return Task.CompletedTask; }, queue: "q"));
        var publisher = await _cluster.StartClientAsync(o => { o.Config = TestCluster.FastConfig + "\n" + Hocon(); o.UseNats(); });

        using (var root = new System.Diagnostics.Activity("publish").Start())
        {
            await publisher.Client.PublishAsync("traced", new Order(1, "x"));
            await handled.Task.WaitAsync(Soon);
            await Eventually.TrueAsync(() => spans.Count(a => a.TraceId == root.TraceId) >= 2, Soon, "the producer and consumer spans");
            var producer = spans.Single(a => a.TraceId == root.TraceId && a.Kind == System.Diagnostics.ActivityKind.Producer);
            var consumer = spans.Single(a => a.TraceId == root.TraceId && a.Kind == System.Diagnostics.ActivityKind.Consumer);
            Assert.Equal("publish traced", producer.DisplayName);
            Assert.Equal(producer.SpanId, consumer.ParentSpanId); // through the event's NATS headers
            Assert.Equal("q", consumer.GetTagItem("messaging.consumer.group.name"));
        }
    }

    [Fact]
    public async Task A_server_that_asks_for_a_user_takes_the_configured_one_and_refuses_a_node_without_it()
    {
        using var locked = NatsServer.Start("--user", "micro", "--pass", "s3cret");
        var got = new TaskCompletionSource<Order>(TaskCreationOptions.RunContinuationsAsynchronously);
        var node = await _cluster.StartServiceAsync("with-user", s => s.Subscribe<Order>("locked", (o, _) => { got.TrySetResult(o); return Task.CompletedTask; }), o =>
        {
            o.Config = TestCluster.FastConfig + $"\nmicro.broker = nats\nmicro.nats.url = \"{locked.Url}\"\nmicro.nats.user = micro\nmicro.nats.password = s3cret";
            o.UseNats();
        });
        await node.Broker.PublishAsync("locked", new Order(5, "x"));
        Assert.Equal(5, (await got.Task.WaitAsync(Soon)).Number);

        var refused = await Assert.ThrowsAsync<MicroException>(() => _cluster.StartServiceAsync("no-user", s => s.Subscribe<Order>("locked", (_, _) => Task.CompletedTask), o =>
        {
            o.Config = TestCluster.FastConfig + $"\nmicro.broker = nats\nmicro.nats.url = \"{locked.Url}\"\nmicro.nats.connect-timeout = 2s";
            o.UseNats();
        }));
        Assert.Equal(503, refused.Error.Code);
        Assert.Contains(locked.Url, refused.Error.Detail);
    }

    [Fact]
    public async Task Over_tls_a_node_that_trusts_the_servers_certificate_publishes_and_one_that_does_not_is_refused()
    {
        var dir = Directory.CreateTempSubdirectory("micro-nats-tls-").FullName;
        try
        {
            // A self-signed certificate for 127.0.0.1: the server's, and the CA file the node trusts.
            using var key = System.Security.Cryptography.RSA.Create(2048);
            var request = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=nats", key,
                System.Security.Cryptography.HashAlgorithmName.SHA256, System.Security.Cryptography.RSASignaturePadding.Pkcs1);
            var names = new System.Security.Cryptography.X509Certificates.SubjectAlternativeNameBuilder();
            names.AddIpAddress(System.Net.IPAddress.Loopback);
            request.CertificateExtensions.Add(names.Build());
            request.CertificateExtensions.Add(new System.Security.Cryptography.X509Certificates.X509BasicConstraintsExtension(true, false, 0, true));
            using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
            var (pem, keyPem) = (Path.Combine(dir, "server.pem"), Path.Combine(dir, "server.key"));
            File.WriteAllText(pem, certificate.ExportCertificatePem());
            File.WriteAllText(keyPem, key.ExportPkcs8PrivateKeyPem());
            using var tls = NatsServer.Start("--tls", "--tlscert", pem, "--tlskey", keyPem);

            var got = new TaskCompletionSource<Order>(TaskCreationOptions.RunContinuationsAsynchronously);
            var node = await _cluster.StartServiceAsync("over-tls", s => s.Subscribe<Order>("tls", (o, _) => { got.TrySetResult(o); return Task.CompletedTask; }), o =>
            {
                o.Config = TestCluster.FastConfig + $"\nmicro.broker = nats\nmicro.nats.url = \"{tls.Url}\"\nmicro.nats.tls.ca-file = \"{pem}\"";
                o.UseNats();
            });
            await node.Broker.PublishAsync("tls", new Order(9, "x"));
            Assert.Equal(9, (await got.Task.WaitAsync(Soon)).Number);

            var untrusted = await Assert.ThrowsAsync<MicroException>(() => _cluster.StartServiceAsync("no-ca", s => s.Subscribe<Order>("tls", (_, _) => Task.CompletedTask), o =>
            {
                o.Config = TestCluster.FastConfig + $"\nmicro.broker = nats\nmicro.nats.url = \"{tls.Url}\"\nmicro.nats.tls.enabled = on\nmicro.nats.connect-timeout = 2s";
                o.UseNats();
            }));
            Assert.Equal(503, untrusted.Error.Code);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public async Task Publish_and_subscriber_wrappers_run_around_the_nats_broker()
    {
        var seen = new ConcurrentBag<string>();
        var node = await Node("wrapped", s => s.Subscribe<Order>("wrapped", (_, e) => { seen.Add(e.Headers.GetValueOrDefault("stamp") ?? "-"); return Task.CompletedTask; }),
            configure: o => o.Wrappers
                .AddPublish((p, next) => { p.Headers["stamp"] = "published"; return next(p); })
                .AddSubscriber((e, next) => { e.Headers["stamp"] += "+handled"; return next(e); }));
        await node.Broker.PublishAsync("wrapped", new Order(1, "x"));
        await Eventually.TrueAsync(() => !seen.IsEmpty, Soon, "the wrapped event");
        Assert.Equal("published+handled", Assert.Single(seen));
    }
}

/// <summary>A hosted node that configuration puts on NATS (Micro:Broker = nats, Micro:Nats:Url), with AddMicroNats.</summary>
public sealed class HostedNatsTests
{
    public sealed class PerEvent
    {
        public int Id { get; } = Interlocked.Increment(ref _next);
        private static int _next;
    }

    [Fact]
    public async Task Configuration_chooses_nats_and_the_hosts_broker_scopes_and_logs_work_on_it()
    {
        using var nats = NatsServer.Start();
        await using var cluster = new TestCluster();
        var scopes = new ConcurrentBag<int>();
        var builder = TestHost.Builder(settings: new Dictionary<string, string?>
        {
            ["Micro:Broker"] = "nats",
            ["Micro:Nats:Url"] = nats.Url,
            ["Micro:Nats:Stream:Storage"] = "memory",
        });
        var logs = new CapturedLogs();
        builder.Logging.AddProvider(logs);
        builder.Services.AddScoped<PerEvent>();
        builder.Services.AddMicroNats();
        builder.Services.AddMicroService("hosted-nats", s => s.Subscribe<Order>("hosted", (_, e) =>
        {
            scopes.Add(e.Services.GetRequiredService<PerEvent>().Id);
            return Task.CompletedTask;
        }), TestHost.In(cluster));
        using var host = builder.Build();
        await host.StartAsync();
        var broker = host.Services.GetRequiredService<IBroker>();
        await broker.PublishAsync("hosted", new Order(1, "a"));
        await broker.PublishAsync("hosted", new Order(2, "b"));
        await Eventually.TrueAsync(() => scopes.Count == 2, TimeSpan.FromSeconds(15), "two events, each in a scope of its own");
        Assert.Equal(2, scopes.Distinct().Count());
        Assert.Equal("nats", host.Services.GetRequiredService<MicroService>().Settings.Broker);
        Assert.Contains(logs.Entries, e => e.Category == "Micro.Actors.Broker" && e.Message.Contains($"Events go through NATS JetStream at {nats.Url}"));
        await host.StopAsync();
    }
}

/// <summary>Choosing a broker by configuration, and what the cluster's broker says to options it cannot honour.</summary>
public sealed class BrokerChoiceTests
{
    [Fact]
    public void Micro_broker_nats_without_the_package_registered_or_an_unknown_broker_is_a_clear_setting_error()
    {
        var nats = Assert.Throws<MicroConfigException>(() => MicroService.Create("x", o => o.Config = "micro.broker = nats"));
        Assert.Equal("micro.broker", nats.Setting);
        Assert.Contains("UseNats()", nats.Message);
        var unknown = Assert.Throws<MicroConfigException>(() => MicroService.Create("x", o => o.Config = "micro.broker = kafka"));
        Assert.Contains("'kafka' is not a broker", unknown.Message);
        Assert.Equal("nats", MicroService.Create("x", o => { o.Config = "micro.broker = nats"; o.UseNats(); }).Settings.Broker);
    }

    [Theory]
    [InlineData("micro.nats.max-attempts = 0", "micro.nats.max-attempts")]
    [InlineData("micro.nats.publish = sometimes", "micro.nats.publish")]
    [InlineData("micro.nats.stream.storage = tape", "micro.nats.stream.storage")]
    [InlineData("micro.nats.backoff = []", "micro.nats.backoff")]
    [InlineData("micro.nats.handler-timeout = 0s", "micro.nats.handler-timeout")]
    [InlineData("micro.nats.subject-prefix = \"a.b\"", "micro.nats.subject-prefix")]
    public void A_bad_nats_setting_is_named(string hocon, string setting)
    {
        var config = Akka.Configuration.ConfigurationFactory.ParseString(hocon).WithFallback(MicroConfig.Default);
        Assert.Equal(setting, Assert.Throws<MicroConfigException>(() => NatsSettings.Read(config)).Setting);
    }

    [Fact]
    public void Redelivery_acks_success_retries_with_the_backoff_and_dead_letters_past_max_attempts()
    {
        var rule = new Redelivery(3, a => TimeSpan.FromSeconds(a));
        Assert.IsType<Outcome.Ack>(rule.After(1, null));
        Assert.Equal(new Outcome.Retry(TimeSpan.FromSeconds(1)), rule.After(1, new Exception("x")));
        Assert.Equal(new Outcome.Retry(TimeSpan.FromSeconds(2)), rule.After(2, new Exception("x")));
        Assert.Contains("failed 3 time(s), the last: Exception: x", Assert.IsType<Outcome.DeadLetter>(rule.After(3, new Exception("x"))).Reason);
        Assert.Null(rule.Before(3));
        Assert.Contains("delivered 4 times", Assert.IsType<Outcome.DeadLetter>(rule.Before(4)).Reason);
        var settings = NatsSettings.Read(MicroConfig.Default);
        Assert.Equal([TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(30)], Enumerable.Range(1, 4).Select(settings.BackoffAfter));
    }

    [Fact]
    public void A_start_position_reads_new_all_a_time_or_an_age()
    {
        Assert.Equal(StartPosition.New, StartPosition.Parse("new"));
        Assert.Equal(StartPosition.All, StartPosition.Parse("ALL"));
        Assert.Equal(new DateTime(2026, 12, 1, 10, 0, 0, DateTimeKind.Utc), StartPosition.Parse("2026-12-01T10:00:00Z").SinceUtc);
        var age = StartPosition.Parse("10m");
        Assert.Equal(StartKind.Time, age.Kind);
        Assert.InRange(DateTime.UtcNow - age.SinceUtc, TimeSpan.FromMinutes(9.9), TimeSpan.FromMinutes(10.1));
        Assert.Contains("is not a start", Assert.Throws<FormatException>(() => StartPosition.Parse("yesterday")).Message);
    }

    [Fact]
    public async Task The_clusters_broker_refuses_to_start_from_retained_events_with_a_400()
    {
        await using var cluster = new TestCluster();
        var node = await cluster.StartServiceAsync("pubsub-only");
        var error = await Assert.ThrowsAsync<MicroException>(() => node.Broker.SubscribeAsync<string>("t", (_, _) => Task.CompletedTask,
            new SubscribeOptions { From = StartPosition.All }, CancellationToken.None));
        Assert.Equal(400, error.Error.Code);
        Assert.Contains("micro.broker = nats", error.Error.Detail);
    }

    [Theory]
    [InlineData("a b")]
    [InlineData("orders.*")]
    [InlineData("orders.")]
    [InlineData("x>")]
    public void A_topic_that_is_no_nats_subject_is_refused(string topic) =>
        Assert.Equal(400, Assert.Throws<MicroException>(() => new NatsNames("micro").Subject(topic)).Error.Code);
}
