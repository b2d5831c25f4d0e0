namespace Micro.Actors.Errors;

/// <summary>The exception a failed call raises at the caller; <see cref="Error"/> has the fields.</summary>
public sealed class MicroException(MicroError error) : Exception(error.ToString())
{
    public MicroError Error { get; } = error;
    public int Code => Error.Code;

    /// <summary>Any exception as an error: a <see cref="MicroException"/> keeps its own, anything else is a 500.</summary>
    public static MicroError ToError(Exception exception, string id) => exception switch
    {
        MicroException m => m.Error,
        AggregateException { InnerExceptions.Count: 1 } a => ToError(a.InnerExceptions[0], id),
        _ => MicroError.InternalServerError(id, $"{exception.GetType().Name}: {exception.Message}"),
    };
}
