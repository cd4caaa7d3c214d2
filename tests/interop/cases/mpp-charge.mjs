// An MPP Solana `charge` credential built as draft-solana-charge-00 says,
// with @solana/kit and the @solana-program packages (no paytab code), sent
// to a URL that answers 402 with `WWW-Authenticate: Payment`.
// Usage: node mpp-charge.mjs URL
//
// What the draft asks of a client, and what this one does:
// - the challenge's `request` auth-param is base64url (no padding) of JCS JSON
//   {amount, currency (a mint, or "sol"), recipient, description?, externalId?,
//   methodDetails: {network, decimals, tokenProgram?, feePayer?, feePayerKey?,
//   recentBlockhash?, splits?}};
// - `methodDetails.network` (mainnet-beta | devnet | localnet) must be the
//   cluster the client is configured for, here the one INTEROP_NETWORK names;
// - the token program is `tokenProgram`, else the mint account's owner;
// - the transaction: optional compute budget (SetComputeUnitLimit,
//   SetComputeUnitPrice), an idempotent creation of the recipient's associated
//   token account, TransferChecked of `amount` to it, a Memo of `externalId`
//   if there is one; with `feePayer: true` its fee payer is `feePayerKey` and
//   the client signs only as the transfer authority (pull mode);
// - the draft does not say who funds the idempotent ATA creation. This case
//   pays with the transfer authority as the funder (the recipient's account
//   exists, so it costs nothing) and must be accepted; it then also sends the
//   layout the reference client (solana-mpp-sdk) builds for sponsored
//   challenges, where `feePayerKey` funds it, and reports the answer to that
//   one without failing on it (paytab refuses to fund accounts: a choice, not
//   a misreading of the draft).
// - several challenges may be offered; this case takes the sponsored one
//   (`feePayer: true`) if there is one.
// - the credential: `Authorization: Payment` + base64url of JCS JSON
//   {challenge: {id, realm, method, intent, request, expires?}, source?,
//   payload: {type: "transaction", transaction: <base64 wire transaction>}};
// - a paid answer carries `Payment-Receipt`: base64url JSON {status:
//   "success", method: "solana", timestamp, reference: <signature>}.
//
// Environment: INTEROP_RPC_URL, INTEROP_NETWORK, INTEROP_PAYER_KEYPAIR.
import {
  address,
  AccountRole,
  appendTransactionMessageInstructions,
  createSolanaRpc,
  createTransactionMessage,
  getBase64EncodedWireTransaction,
  partiallySignTransactionMessageWithSigners,
  pipe,
  setTransactionMessageFeePayer,
  setTransactionMessageFeePayerSigner,
  setTransactionMessageLifetimeUsingBlockhash,
  signTransactionMessageWithSigners,
} from "@solana/kit";
import { getSetComputeUnitLimitInstruction, getSetComputeUnitPriceInstruction } from "@solana-program/compute-budget";
import {
  ASSOCIATED_TOKEN_PROGRAM_ADDRESS,
  findAssociatedTokenPda,
  getCreateAssociatedTokenIdempotentInstruction,
  getTransferCheckedInstruction,
  TOKEN_PROGRAM_ADDRESS,
} from "@solana-program/token";
import { main, need, rpcCall, signerFromFile, tokenBalance } from "../lib/common.mjs";

const TOKEN_2022 = "TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb";
const MEMO = "MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr";
const CLUSTERS = {
  "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp": "mainnet-beta",
  "solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1": "devnet",
};

/** RFC 8785 JSON canonicalization for the plain JSON used here (strings, integers, booleans, objects, arrays). */
function jcs(value) {
  if (Array.isArray(value)) return `[${value.map(jcs).join(",")}]`;
  if (value !== null && typeof value === "object") {
    return `{${Object.keys(value)
      .filter((k) => value[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${jcs(value[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(value);
}

/** The `Payment` challenges of WWW-Authenticate header values: [{id, realm, method, intent, request, ...}]. */
function parseChallenges(values) {
  const challenges = [];
  for (const value of values) {
    for (const part of value.split(/(?:^|,)\s*(?=Payment\s)/i)) {
      const m = part.match(/^Payment\s+(.*)$/is);
      if (!m) continue;
      const params = {};
      for (const p of m[1].matchAll(/([A-Za-z][\w-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/g)) {
        params[p[1].toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, "$1") : p[3];
      }
      challenges.push(params);
    }
  }
  return challenges;
}

/** The `charge` challenge to answer, fetched fresh (each credential is single-use). */
async function freshChallenge(url) {
  const probe = await fetch(url);
  const headerValue = probe.headers.get("www-authenticate") ?? ""; // fetch joins repeated headers with ", "
  const charges = parseChallenges([headerValue]).filter((c) => c.method === "solana" && c.intent === "charge");
  const decode = (c) => JSON.parse(Buffer.from(c.request, "base64url").toString("utf8"));
  const challenge = charges.find((c) => decode(c).methodDetails?.feePayer === true) ?? charges[0];
  if (probe.status !== 402 || !challenge) {
    throw new Error(`expected 402 with WWW-Authenticate: Payment method="solana" intent="charge", got ${probe.status} ${headerValue}`);
  }
  return { challenge, request: decode(challenge), offered: charges.length };
}

/** Builds a credential for `challenge` whose ATA creation `funder` ("authority" or "feePayer") funds, sends it, and says what came back. */
async function pay(url, rpc, rpcUrl, signer, funder) {
  const { challenge, request, offered } = await freshChallenge(url);
  const details = request.methodDetails ?? {};
  if (request.currency === "sol") throw new Error("the challenge asks for native SOL; this case pays a token");
  const mint = address(request.currency);
  let tokenProgram = details.tokenProgram;
  if (!tokenProgram) {
    const { value: mintAccount } = await rpc.getAccountInfo(mint, { encoding: "base64" }).send();
    tokenProgram = mintAccount?.owner;
  }
  if (tokenProgram !== TOKEN_PROGRAM_ADDRESS && tokenProgram !== TOKEN_2022) {
    throw new Error(`the mint's token program is ${tokenProgram}, neither Token nor Token-2022`);
  }
  if (details.feePayer && !details.feePayerKey) throw new Error("feePayer: true without feePayerKey");
  if ((details.splits ?? []).length) throw new Error("the challenge has splits; this case pays one recipient");
  const sponsored = Boolean(details.feePayer);
  const recipient = address(request.recipient);
  const amount = BigInt(request.amount);

  const [source] = await findAssociatedTokenPda({ mint, owner: signer.address, tokenProgram });
  const [destination] = await findAssociatedTokenPda({ mint, owner: recipient, tokenProgram });
  const createAta =
    funder === "feePayer"
      ? {
          // As the reference client builds it: the fee payer (an address only; the server signs for it) funds.
          programAddress: ASSOCIATED_TOKEN_PROGRAM_ADDRESS,
          accounts: [
            { address: address(details.feePayerKey), role: AccountRole.WRITABLE_SIGNER },
            { address: destination, role: AccountRole.WRITABLE },
            { address: recipient, role: AccountRole.READONLY },
            { address: mint, role: AccountRole.READONLY },
            { address: address("11111111111111111111111111111111"), role: AccountRole.READONLY },
            { address: address(tokenProgram), role: AccountRole.READONLY },
          ],
          data: new Uint8Array([1]),
        }
      : getCreateAssociatedTokenIdempotentInstruction({ payer: signer, ata: destination, owner: recipient, mint, tokenProgram: address(tokenProgram) });
  const instructions = [
    getSetComputeUnitLimitInstruction({ units: 200_000 }),
    getSetComputeUnitPriceInstruction({ microLamports: 1n }),
    createAta,
    getTransferCheckedInstruction(
      { source, mint, destination, authority: signer, amount, decimals: details.decimals },
      { programAddress: address(tokenProgram) },
    ),
  ];
  if (request.externalId) {
    instructions.push({ programAddress: address(MEMO), accounts: [], data: new TextEncoder().encode(request.externalId) });
  }
  const blockhash = details.recentBlockhash
    ? { blockhash: details.recentBlockhash, lastValidBlockHeight: 0n }
    : (await rpc.getLatestBlockhash().send()).value;
  const message = pipe(
    createTransactionMessage({ version: 0 }),
    (m) => (sponsored ? setTransactionMessageFeePayer(address(details.feePayerKey), m) : setTransactionMessageFeePayerSigner(signer, m)),
    (m) => setTransactionMessageLifetimeUsingBlockhash(blockhash, m),
    (m) => appendTransactionMessageInstructions(instructions, m),
  );
  const signed = sponsored ? await partiallySignTransactionMessageWithSigners(message) : await signTransactionMessageWithSigners(message);
  const echoed = Object.fromEntries(
    ["id", "realm", "method", "intent", "request", "expires", "digest", "opaque"].filter((k) => challenge[k] !== undefined).map((k) => [k, challenge[k]]),
  );
  const credential = Buffer.from(
    jcs({ challenge: echoed, source: signer.address, payload: { type: "transaction", transaction: getBase64EncodedWireTransaction(signed) } }),
  ).toString("base64url");

  const payerBefore = await tokenBalance(rpcUrl, signer.address, mint);
  const payeeBefore = await tokenBalance(rpcUrl, recipient, mint);
  const response = await fetch(url, { headers: { authorization: `Payment ${credential}` } });
  const body = await response.text();
  const layout =
    `${sponsored ? "sponsored" : "client pays fees"}, [SetComputeUnitLimit, SetComputeUnitPrice, ` +
    `CreateIdempotent funded by ${funder === "feePayer" ? "feePayerKey" : "the transfer authority"}, TransferChecked${request.externalId ? ", Memo" : ""}]`;
  const result = { challenge, request, offered, layout, status: response.status, body, problems: [] };
  if (response.status !== 200) {
    result.problems.push(`the credential (${layout}) was answered ${response.status} ${response.headers.get("content-type") ?? ""}: ${body.slice(0, 400)}`);
    return result;
  }
  const receiptHeader = response.headers.get("payment-receipt");
  if (!receiptHeader) {
    result.problems.push(`200 without Payment-Receipt (not charged?): ${body.slice(0, 200)}`);
    return result;
  }
  const receipt = JSON.parse(Buffer.from(receiptHeader, "base64url").toString("utf8"));
  result.receipt = receipt;
  if (receipt.status !== "success" || receipt.method !== "solana" || !receipt.reference) {
    result.problems.push(`Payment-Receipt is not a solana success: ${JSON.stringify(receipt)}`);
    return result;
  }
  const tx = await rpcCall(rpcUrl, "getTransaction", [receipt.reference, { encoding: "json", commitment: "confirmed", maxSupportedTransactionVersion: 0 }]);
  if (!tx || tx.meta?.err) result.problems.push(`receipt reference ${receipt.reference} is not a clean confirmed transaction`);
  result.paid = payerBefore - (await tokenBalance(rpcUrl, signer.address, mint));
  result.received = (await tokenBalance(rpcUrl, recipient, mint)) - payeeBefore;
  if (result.paid !== amount || result.received !== amount) {
    result.problems.push(`asked ${amount}, payer paid ${result.paid}, recipient received ${result.received}`);
  }
  return result;
}

main(async () => {
  const url = process.argv[2];
  const rpcUrl = need("INTEROP_RPC_URL");
  const cluster = CLUSTERS[need("INTEROP_NETWORK")] ?? "localnet";
  const rpc = createSolanaRpc(rpcUrl);
  const signer = await signerFromFile(need("INTEROP_PAYER_KEYPAIR"));

  const first = await pay(url, rpc, rpcUrl, signer, "authority");
  const network = first.request.methodDetails?.network;
  const problems = [];
  if ((network ?? "mainnet-beta") !== cluster) {
    problems.push(`methodDetails.network is ${JSON.stringify(network)}, but this client's cluster (${need("INTEROP_NETWORK")}) is "${cluster}": a draft client must refuse the challenge`);
  }
  problems.push(...first.problems);
  if (problems.length) throw new Error(problems.join("; "));

  let reference = "";
  if (first.request.methodDetails?.feePayer) {
    // The reference client makes the fee payer fund the account creation; paytab
    // refuses that by design (ADR 0017). It must be refused for that reason and
    // no other (a fresh challenge, a distinct transaction).
    const second = await pay(url, rpc, rpcUrl, signer, "feePayer");
    if (!second.problems.length) {
      reference = `; the reference client's layout (CreateIdempotent funded by feePayerKey) was accepted too`;
    } else if (second.status === 402 && /funded by the transfer authority|account_creation/.test(second.body)) {
      reference = `; note: the reference client's layout (CreateIdempotent funded by feePayerKey) was refused as designed: ${second.status} ${second.body.slice(0, 240)}`;
    } else {
      throw new Error(`the fee-payer-funded layout was refused for another reason than the funding rule: ${second.status} ${second.body.slice(0, 300)}`);
    }
  }
  return (
    `${first.offered} charge challenge(s), took ${first.challenge.id.slice(0, 10)}… (network "${network}"); ` +
    `credential (${first.layout}) accepted: 200 ${first.body.slice(0, 50)}; Payment-Receipt success, ` +
    `reference ${first.receipt.reference.slice(0, 16)}… confirmed; payer -${first.paid}, recipient +${first.received}${reference}`
  );
});
