// `paytab curl` (the paytab CLI, a binary) pays a URL's x402 `exact` offer.
// Usage: node paytab-curl.mjs URL
//
// The CLI learns what its RPC's chain is called from PAYTAB_NETWORK (its
// global --network option): here the localnet is served as devnet, so offers
// name devnet's CAIP-2 id. Afterwards the CLI's own ledger (`paytab --json
// history`) must name the payment, and the chain must show the transfer.
//
// Environment: INTEROP_PAYTAB (the binary), INTEROP_RPC_URL, INTEROP_NETWORK,
// INTEROP_MINT, INTEROP_PAYER_KEYPAIR, INTEROP_PAYTAB_HOME.
import { spawnSync } from "node:child_process";
import { main, need, rpcCall, signerFromFile, tokenBalance } from "../lib/common.mjs";

main(async () => {
  const url = process.argv[2];
  const rpcUrl = need("INTEROP_RPC_URL");
  const mint = need("INTEROP_MINT");
  const payer = (await signerFromFile(need("INTEROP_PAYER_KEYPAIR"))).address;
  const paytab = (...args) =>
    spawnSync(need("INTEROP_PAYTAB"), ["--url", rpcUrl, "--keypair", need("INTEROP_PAYER_KEYPAIR"), "--home", need("INTEROP_PAYTAB_HOME"), ...args], {
      env: { ...process.env, PAYTAB_NETWORK: need("INTEROP_NETWORK") },
      encoding: "utf8",
      timeout: 120_000,
    });

  const before = await tokenBalance(rpcUrl, payer, mint);
  const run = paytab("curl", "-i", "-v", "--scheme", "exact", url);
  console.log(`paytab curl exit ${run.status}\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`);
  if (run.status !== 0 || !run.stdout.startsWith("HTTP/1.1 200")) {
    const help = paytab("--help").stdout ?? "";
    const hint = help.includes("--network") ? "" : " [this paytab binary has no --network option; PAYTAB_NETWORK is ignored]";
    const error = (run.stderr || run.stdout).trim().split("\n").filter((l) => !l.startsWith("* ")).join(" ");
    throw new Error(`paytab curl exited ${run.status}: ${error.slice(0, 400)}${hint}`);
  }
  const body = run.stdout.split(/\r?\n\r?\n/).slice(1).join("\n\n").trim();
  const history = JSON.parse(paytab("--json", "history", "--limit", "1").stdout);
  const entry = history[0];
  if (!entry || entry.scheme !== "exact" || entry.url !== url) throw new Error(`the ledger's last payment is not this one: ${JSON.stringify(entry)}`);
  const tx = await rpcCall(rpcUrl, "getTransaction", [entry.reference, { encoding: "json", commitment: "confirmed", maxSupportedTransactionVersion: 0 }]);
  if (!tx || tx.meta?.err) throw new Error(`the ledger's reference ${entry.reference} is not a clean confirmed transaction`);
  const paid = before - (await tokenBalance(rpcUrl, payer, mint));
  if (paid !== BigInt(entry.amount)) throw new Error(`the ledger says ${entry.amount}, the payer paid ${paid}`);
  return `200 ${body.slice(0, 70)}; ledger: exact ${entry.amount} to ${entry.payTo.slice(0, 8)}… on ${entry.network}, tx ${entry.reference.slice(0, 16)}… confirmed; payer -${paid}`;
});
