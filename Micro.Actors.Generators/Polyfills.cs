// Records and init-only setters on netstandard2.0 need the type the compiler looks for.
namespace System.Runtime.CompilerServices
{
    internal static class IsExternalInit;
}
