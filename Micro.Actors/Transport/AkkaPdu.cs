using Google.Protobuf;

namespace Micro.Actors.Transport;

/// <summary>
/// The little the transport reads of Akka's protocol messages (WireFormats.proto: AkkaProtocolMessage,
/// with a payload in field 1 or an instruction in field 2): whether a frame is a control message, and
/// who an ASSOCIATE comes from.
/// </summary>
internal static class AkkaPdu
{
    private const uint InstructionTag = 2 << 3 | 2; // AkkaProtocolMessage.instruction, length-delimited
    private const int Associate = 1; // CommandType.ASSOCIATE

    /// <summary>An instruction (associate, heartbeat, disassociate), not a payload of messages: these are never refused for lack of room.</summary>
    public static bool IsControl(ReadOnlySpan<byte> pdu) => pdu.Length > 0 && pdu[0] == InstructionTag;

    /// <summary>"host:port" of the node an ASSOCIATE comes from; null when the frame is not one.</summary>
    public static string? AssociateOrigin(byte[] buffer, int offset, int length)
    {
        try
        {
            var instruction = Field(new CodedInputStream(buffer, offset, length), 2);
            if (instruction is null) return null;
            var control = new CodedInputStream(instruction.ToByteArray());
            int? command = null;
            ByteString? handshake = null;
            for (uint tag; (tag = control.ReadTag()) != 0;)
            {
                if (tag == (1 << 3)) command = control.ReadEnum();
                else if (tag == (2 << 3 | 2)) handshake = control.ReadBytes();
                else control.SkipLastField();
            }
            if (command != Associate || handshake is null) return null;
            var origin = Field(new CodedInputStream(handshake.ToByteArray()), 1); // AkkaHandshakeInfo.origin
            if (origin is null) return null;
            var address = new CodedInputStream(origin.ToByteArray()); // AddressData: hostname = 2, port = 3
            string? host = null;
            uint port = 0;
            for (uint tag; (tag = address.ReadTag()) != 0;)
            {
                if (tag == (2 << 3 | 2)) host = address.ReadString();
                else if (tag == (3 << 3)) port = address.ReadUInt32();
                else address.SkipLastField();
            }
            return string.IsNullOrEmpty(host) || port == 0 ? null : $"{host}:{port}";
        }
        catch (InvalidProtocolBufferException) { return null; }
    }

    /// <summary>The length-delimited field <paramref name="number"/> of a message, or null.</summary>
    private static ByteString? Field(CodedInputStream input, int number)
    {
        ByteString? found = null;
        for (uint tag; (tag = input.ReadTag()) != 0;)
        {
            if (tag == (uint)(number << 3 | 2)) found = input.ReadBytes();
            else input.SkipLastField();
        }
        return found;
    }
}
