namespace Micro.Actors.Cli;

/// <summary>What `micro` exits with; scripts can branch on these.</summary>
public static class ExitCodes
{
    public const int Ok = 0;
    public const int Internal = 1;
    public const int BadInput = 2;
    public const int NotFound = 3;
    public const int Timeout = 4;
    public const int RemoteError = 5;
    public const int Unreachable = 6;

    /// <summary>The exit code of an error from a call.</summary>
    public static int For(Errors.MicroError error) => error.Code switch
    {
        400 or 413 => BadInput,
        404 => NotFound,
        408 => Timeout,
        _ => RemoteError,
    };
}
