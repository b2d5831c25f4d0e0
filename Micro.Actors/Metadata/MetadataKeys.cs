namespace Micro.Actors.Metadata;

/// <summary>Header names Micro.Actors itself reads or writes.</summary>
public static class MetadataKeys
{
    /// <summary>The attempt number of a retried call (2, 3, …), so the handler's wrappers see it; absent on a first attempt. Never propagated.</summary>
    public const string Attempt = "Micro-Attempt";

    /// <summary>A bearer token: "Bearer &lt;token&gt;" (see <see cref="Wrappers.BearerToken"/>).</summary>
    public const string Authorization = "Authorization";
}
