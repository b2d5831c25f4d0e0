using System.Collections.Immutable;
using System.Net;
using System.Text;
using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using Akka.Management.Cluster.Bootstrap.ContactPoint;
using Newtonsoft.Json;

namespace Micro.Actors.Hosting.Discovery;

/// <summary>
/// A node's contact point for Cluster Bootstrap: <c>GET /bootstrap/seed-nodes</c>, answered as Akka.Management's
/// own route answers it (the same JSON its probes read). Served here, on .NET's HttpListener, because
/// Akka.Management's HTTP endpoint runs on Ceen.Httpd 0.9.9, which is not served: the 0.9.10 NuGet gives
/// instead fails at start with a MissingMethodException.
/// </summary>
internal sealed class ContactPointEndpoint : IDisposable
{
    public const string Path = "/bootstrap/seed-nodes";

    /// <summary>As Akka.Management's route (ClusterBootstrapSettings.ContactPoint.MaxSeedNodesToExpose, fixed at 5).</summary>
    private const int MaxSeedNodesToExpose = 5;

    private readonly HttpListener _listener = new();
    private readonly ActorSystem _system;
    private readonly ILoggingAdapter _log;
    private readonly CancellationTokenSource _stop = new();

    public ContactPointEndpoint(ActorSystem system, string host, int port)
    {
        _system = system;
        _log = Akka.Event.Logging.GetLogger(system, typeof(ContactPointEndpoint));
        var bind = host is "0.0.0.0" or "::" ? "+" : host.Contains(':') ? $"[{host}]" : host;
        _listener.Prefixes.Add($"http://{bind}:{port}/");
        BaseUri = new Uri($"http://{(host.Contains(':') ? $"[{host}]" : host)}:{port}/");
    }

    /// <summary>Where other nodes reach this one's contact point (what discovery lists for it).</summary>
    public Uri BaseUri { get; }

    public void Start()
    {
        try { _listener.Start(); }
        catch (HttpListenerException e)
        {
            throw new Config.MicroConfigException("micro.discovery.management-port",
                $"cannot listen on {BaseUri} for cluster bootstrap: {e.Message}; give another port (Micro:Discovery:ManagementPort)");
        }
        _ = Task.Run(ServeAsync);
    }

    private async Task ServeAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            HttpListenerContext context;
            try { context = await _listener.GetContextAsync().ConfigureAwait(false); }
            catch (Exception) when (_stop.IsCancellationRequested || !_listener.IsListening) { return; }
            catch (Exception e)
            {
                _log.Warning("Cluster bootstrap contact point: {Error}", e.Message);
                continue;
            }
            try { await AnswerAsync(context).ConfigureAwait(false); }
            catch (Exception e) { _log.Debug("Cluster bootstrap contact point: the answer to {Remote} failed: {Error}", context.Request.RemoteEndPoint, e.Message); }
            finally { context.Response.Close(); }
        }
    }

    private async Task AnswerAsync(HttpListenerContext context)
    {
        if (context.Request.HttpMethod != "GET" || context.Request.Url?.AbsolutePath != Path)
        {
            context.Response.StatusCode = 404;
            return;
        }
        var body = Encoding.UTF8.GetBytes(JsonConvert.SerializeObject(SeedNodes()));
        context.Response.ContentType = "application/json";
        context.Response.ContentLength64 = body.Length;
        await context.Response.OutputStream.WriteAsync(body).ConfigureAwait(false);
    }

    /// <summary>
    /// What the node knows: the members others may join through (none while this node is on its way out),
    /// the reachable ones that are Joining, WeaklyUp or Up, at most as many as the bootstrap exposes.
    /// </summary>
    private HttpBootstrapJsonProtocol.SeedNodes SeedNodes()
    {
        var cluster = Cluster.Get(_system);
        var self = cluster.SelfMember;
        if (self.Status is MemberStatus.Leaving or MemberStatus.Exiting or MemberStatus.Down or MemberStatus.Removed)
            return new(self.UniqueAddress.Address, ImmutableList<HttpBootstrapJsonProtocol.ClusterMember>.Empty);
        var state = cluster.State;
        var members = state.Members
            .Where(m => !state.Unreachable.Contains(m) && m.Status is MemberStatus.Joining or MemberStatus.Up or MemberStatus.WeaklyUp)
            .OrderBy(_ => Random.Shared.Next())
            .Take(MaxSeedNodesToExpose)
            .Select(m => new HttpBootstrapJsonProtocol.ClusterMember(m.UniqueAddress.Address, m.UniqueAddress.Uid, m.Status, m.Roles))
            .ToImmutableList();
        return new(self.UniqueAddress.Address, members);
    }

    public void Dispose()
    {
        _stop.Cancel();
        try { _listener.Close(); }
        catch (ObjectDisposedException) { }
    }
}
