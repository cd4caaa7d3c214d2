// Helpers shared by the node programs of the interop suite. The runner
// (tests/interop/run) passes everything through INTEROP_* environment
// variables; a case prints what it showed on a last line "SHOWED: ..." and
// exits 0 when it passed, 1 when it failed ("FAILED: ..." says why).
import { readFileSync } from "node:fs";
import { createKeyPairSignerFromBytes } from "@solana/kit";

/** An INTEROP_* setting the runner must have given. */
export function need(name) {
  const value = process.env[name];
  if (value === undefined || value === "") throw new Error(`${name} is not set (run this through tests/interop/run)`);
  return value;
}

/** A kit signer from a Solana keypair file (64-byte JSON array). */
export async function signerFromFile(path) {
  return createKeyPairSignerFromBytes(new Uint8Array(JSON.parse(readFileSync(path, "utf8"))));
}

/** One JSON-RPC call, plain fetch, so a case can look at the chain without the SDK under test. */
export async function rpcCall(url, method, params = []) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  });
  const body = await response.json();
  if (body.error) throw new Error(`${method}: ${JSON.stringify(body.error)}`);
  return body.result;
}

/** Raw token balance of an owner's accounts for a mint (0 when it has none). */
export async function tokenBalance(rpcUrl, owner, mint) {
  const result = await rpcCall(rpcUrl, "getTokenAccountsByOwner", [owner, { mint }, { encoding: "jsonParsed" }]);
  return result.value.reduce((sum, account) => sum + BigInt(account.account.data.parsed.info.tokenAmount.amount), 0n);
}

/** JSON that survives bigints. */
export function json(value) {
  return JSON.stringify(value, (_, v) => (typeof v === "bigint" ? v.toString() : v));
}

/** Decode a base64 (or base64url) JSON header value. */
export function decodeHeaderJson(value) {
  return JSON.parse(Buffer.from(value, value.includes("-") || value.includes("_") ? "base64url" : "base64").toString("utf8"));
}

/** Print the evidence and exit: 0 if passed. */
export function finish(passed, showed) {
  console.log(`${passed ? "SHOWED" : "FAILED"}: ${showed}`);
  process.exit(passed ? 0 : 1);
}

/** Run a case's main; an exception is a failure whose message is the evidence. */
export function main(run) {
  run().then(
    (result) => finish(true, result),
    (error) => {
      console.error(error?.stack ?? String(error));
      finish(false, error?.message ?? String(error));
    },
  );
}
