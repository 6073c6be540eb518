import { ConnectError } from "@connectrpc/connect";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";

/** One invalid request field: its path and the rule it broke. */
export interface FieldViolation {
  /** e.g. `email` or `services[2].timeout_ms`. */
  field: string;
  /** e.g. `must be between 1 and 60000`. */
  description: string;
}

const badRequestType = "google.rpc.BadRequest";

/**
 * Returns the field violations of an `InvalidArgument` error (its
 * `google.rpc.BadRequest` details), or an empty array for any other error.
 */
export function fieldViolations(err: unknown): FieldViolation[] {
  const cerr = ConnectError.from(err);
  const out: FieldViolation[] = [];
  for (const d of cerr.details) {
    // Incoming details carry the type name and the encoded message.
    if ("type" in d && d.type === badRequestType && d.value instanceof Uint8Array) {
      out.push(...decodeBadRequest(d.value));
    }
  }
  return out;
}

// google.rpc.BadRequest { repeated FieldViolation field_violations = 1; }
// FieldViolation { string field = 1; string description = 2; }
// Decoded by hand: the SDK does not ship the google.rpc protos.
function decodeBadRequest(bytes: Uint8Array): FieldViolation[] {
  const out: FieldViolation[] = [];
  const r = new BinaryReader(bytes);
  while (r.pos < r.len) {
    const [no, wt] = r.tag();
    if (no !== 1 || wt !== WireType.LengthDelimited) {
      r.skip(wt);
      continue;
    }
    const v: FieldViolation = { field: "", description: "" };
    const fr = new BinaryReader(r.bytes());
    while (fr.pos < fr.len) {
      const [fno, fwt] = fr.tag();
      if (fno === 1 && fwt === WireType.LengthDelimited) v.field = fr.string();
      else if (fno === 2 && fwt === WireType.LengthDelimited) v.description = fr.string();
      else fr.skip(fwt);
    }
    out.push(v);
  }
  return out;
}
