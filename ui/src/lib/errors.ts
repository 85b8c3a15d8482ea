// The error codes of docs/desktop.md (Rust: ferry_desktop::error::ErrorCode), turning whatever
// a command rejected with into `{ code, message }`, and the plain words the window shows.

export const ERROR_CODES = [
  "wrong_password",
  "signed_out",
  "unreachable",
  "certificate",
  "no_keyring",
  "not_a_server",
  "not_found",
  "already_exists",
  "invalid_input",
  "io",
  "internal",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** With `certificate`: the certificate the server presented (docs/desktop.md). */
export interface CertificateInfo {
  /** SHA-256, `AB:CD:…`. */
  fingerprint: string;
  subject: string;
  /** The fingerprint trusted for this server instead, when the certificate changed. */
  trusted: string | null;
}

export interface FerryError {
  code: ErrorCode;
  message: string;
  certificate?: CertificateInfo;
}

function certificateOf(value: unknown): CertificateInfo | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const { fingerprint, subject, trusted } = value as Record<string, unknown>;
  if (typeof fingerprint !== "string" || typeof subject !== "string") return undefined;
  return { fingerprint, subject, trusted: typeof trusted === "string" ? trusted : null };
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === "string" && (ERROR_CODES as readonly string[]).includes(value);
}

const UNEXPECTED = "Something unexpected went wrong inside Ferry.";

/** Whatever a command rejected with, as `{code, message}`; anything not from the shell is `internal`. */
export function toFerryError(e: unknown): FerryError {
  if (typeof e === "object" && e !== null) {
    const { code, message, certificate } = e as { code?: unknown; message?: unknown; certificate?: unknown };
    if (isErrorCode(code)) {
      const error: FerryError = { code, message: typeof message === "string" ? message : "" };
      const cert = certificateOf(certificate);
      if (cert) error.certificate = cert;
      return error;
    }
    if (typeof message === "string" && message !== "") {
      return { code: "internal", message };
    }
    return { code: "internal", message: UNEXPECTED };
  }
  if (typeof e === "string" && e !== "") {
    return { code: "internal", message: e };
  }
  return { code: "internal", message: UNEXPECTED };
}

/** The host part of a server URL, for messages ("Cannot reach files.example.org"). */
export function serverName(server: string): string {
  try {
    return new URL(server).host || server;
  } catch {
    return server;
  }
}

/**
 * What the window says for an error, in words a person who is not a developer can act on.
 * `server` fills in the server's name where the sentence needs it.
 */
export function describeError(err: FerryError, server?: string): string {
  const message = err.message.trim();
  switch (err.code) {
    case "wrong_password":
      return "The user name or password is wrong.";
    case "signed_out":
      return "Ferry was signed out of this server. Please sign in again.";
    case "unreachable":
      return server
        ? `Cannot reach ${serverName(server)}. Check the address and your connection.`
        : "Cannot reach the server. Check the address and your connection.";
    case "certificate":
      return "The server's security certificate is not trusted, so Ferry did not connect. If the server uses its own certificate, ask its administrator for it and add it to this computer's trusted certificates.";
    case "no_keyring":
      return "Ferry found no keyring to keep your password safe. Install and unlock a keyring such as GNOME Keyring or KWallet, then try again, or start Ferry with FERRY_TOKEN set to your token.";
    case "not_a_server":
      return message || "This address answered, but it is not a Ferry server, a tus server or a GalileoSend server.";
    case "not_found":
      return message || "That no longer exists.";
    case "already_exists":
      return message || "Ferry already syncs this folder.";
    case "invalid_input":
      return message || "Please check what you typed.";
    case "io":
      return message || "Ferry could not read or write a file on this computer.";
    case "internal":
      return message || UNEXPECTED;
  }
}

/** A file's failure or retry reason for people: a short summary in plain words, and the
 *  technical text (the engine's own words) for a "Details" toggle. Never CLI advice. */
export interface PlainReason {
  summary: string;
  detail: string;
  /** The reason is the sign-in: signing in again fixes it. */
  signIn: boolean;
}

const REASONS: { test: RegExp; summary: string; signIn?: boolean }[] = [
  { test: /sign(ed)? ?in|unauthori[sz]ed|\b401\b|ferry login|token/i, summary: "The server refused the sign-in. Sign in again in Settings, then Retry.", signIn: true },
  { test: /out of space|insufficient storage|\b507\b|disk_full/i, summary: "The server is out of space. Ferry tries again once space is freed." },
  { test: /connection refused|tcp connect|error sending request|timed out|dns|could not be reached|unreachable|connection reset|broken pipe/i, summary: "Can't reach the server. Ferry tries again by itself." },
  { test: /certificate/i, summary: "The server's certificate is not trusted. Sign in again to check it." },
  { test: /changed while it was being uploaded|file changed/i, summary: "The file changed while it was sent; it is sent again once it stops changing." },
  { test: /cannot read|permission denied|no such file/i, summary: "Ferry cannot read this file. Check that it exists and that you may read it." },
  { test: /checksum|sha1|not stored|mismatch/i, summary: "The server did not store exactly these bytes. Retry sends the file again." },
  { test: /too large|\b413\b/i, summary: "The server does not take a file this large." },
];

/** The failure text `text` (from the engine) in plain words, with the detail kept. */
export function plainReason(text: string): PlainReason {
  const detail = text.trim();
  for (const r of REASONS) {
    if (r.test.test(detail)) return { summary: r.summary, detail, signIn: r.signIn === true };
  }
  // Unknown: its first sentence, without any command line advice.
  const first = detail.replace(/;?\s*(run|use) `ferry [^`]*`[^.;]*/gi, "").split(/(?<=[.;])\s/)[0] ?? detail;
  return { summary: first === "" ? "The upload failed." : first, detail, signIn: false };
}
