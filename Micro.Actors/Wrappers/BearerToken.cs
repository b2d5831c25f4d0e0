using Micro.Actors.Errors;
using Micro.Actors.Metadata;

namespace Micro.Actors.Wrappers;

/// <summary>
/// A shared-secret bearer token in the <c>Authorization</c> header: <see cref="Require(Func{string, bool})"/>
/// on the serving side (a handler wrapper that answers 401 without a valid token), <see cref="Send(string)"/> on the
/// calling side (a client wrapper that adds it). Tokens are compared in constant time.
/// </summary>
public static class BearerToken
{
    private const string Scheme = "Bearer ";

    /// <summary>Answers 401 unless the request carries "Authorization: Bearer &lt;token&gt;" and <paramref name="isValid"/> accepts the token.</summary>
    public static IHandlerWrapper Require(Func<string, bool> isValid)
    {
        ArgumentNullException.ThrowIfNull(isValid);
        return new Check(isValid);
    }

    /// <summary>Answers 401 unless the request carries one of <paramref name="tokens"/>.</summary>
    public static IHandlerWrapper Require(params string[] tokens)
    {
        if (tokens.Length == 0 || tokens.Any(string.IsNullOrEmpty)) throw new ArgumentException("give at least one token, none empty", nameof(tokens));
        var known = tokens.Select(t => System.Text.Encoding.UTF8.GetBytes(t)).ToList();
        return new Check(token =>
        {
            var given = System.Text.Encoding.UTF8.GetBytes(token);
            var ok = false;
            foreach (var k in known) ok |= System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(k, given);
            return ok;
        });
    }

    /// <summary>Adds "Authorization: Bearer &lt;token&gt;" to every call from this node that does not carry one already.</summary>
    public static IClientWrapper Send(Func<string> token)
    {
        ArgumentNullException.ThrowIfNull(token);
        return new Add(token);
    }

    /// <summary>Adds <paramref name="token"/> to every call from this node that does not carry one already.</summary>
    public static IClientWrapper Send(string token) => string.IsNullOrEmpty(token) ? throw new ArgumentException("the token is empty", nameof(token)) : Send(() => token);

    private sealed class Check(Func<string, bool> isValid) : IHandlerWrapper
    {
        public Task<object?> InvokeAsync(HandlerContext handler, HandlerDelegate next)
        {
            if (!handler.Headers.TryGetValue(MetadataKeys.Authorization, out var value) || !value.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase))
                throw Unauthorized(handler, $"{handler.Endpoint} needs a bearer token: send the header \"{MetadataKeys.Authorization}: Bearer <token>\"");
            if (!isValid(value[Scheme.Length..].Trim()))
                throw Unauthorized(handler, $"{handler.Endpoint}: the bearer token is not valid here");
            return next(handler);
        }

        private static MicroException Unauthorized(HandlerContext handler, string detail) => MicroError.New(handler.Service, 401, detail).ToException();
    }

    private sealed class Add(Func<string> token) : IClientWrapper
    {
        public Task<byte[]?> InvokeAsync(CallContext call, CallDelegate next)
        {
            call.Headers.TryAdd(MetadataKeys.Authorization, Scheme + token());
            return next(call);
        }
    }
}
