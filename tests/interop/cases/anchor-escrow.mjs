// The TypeScript Anchor client (@anchor-lang/core) reads a paytab escrow from
// the localnet and decodes it with nothing but the IDL checked in at
// programs/paytab/idl/paytab.json: Program(idl) takes the program id from the
// IDL, program.account.escrow.fetch checks the account discriminator and
// decodes the fields.
//
// Environment: INTEROP_RPC_URL, INTEROP_IDL (path of the IDL),
// INTEROP_PROGRAM_ID (what the localnet loaded), INTEROP_MINT,
// INTEROP_ESCROW_OWNER (the wallet that opened the escrow),
// INTEROP_ESCROW_FUNDED (raw units it deposited).
import { existsSync, readFileSync } from "node:fs";
import anchor from "@anchor-lang/core";
import { main, need } from "../lib/common.mjs";

const { AnchorProvider, Program, web3 } = anchor;

main(async () => {
  const idlPath = need("INTEROP_IDL");
  if (!existsSync(idlPath)) throw new Error(`no IDL at ${idlPath}: the checked-in programs/paytab/idl/paytab.json is missing, so no Anchor client can decode paytab accounts`);
  const idl = JSON.parse(readFileSync(idlPath, "utf8"));
  const connection = new web3.Connection(need("INTEROP_RPC_URL"), "confirmed");
  // Read-only: a wallet that never signs.
  const wallet = {
    publicKey: web3.Keypair.generate().publicKey,
    signTransaction: async () => { throw new Error("read-only"); },
    signAllTransactions: async () => { throw new Error("read-only"); },
  };
  const program = new Program(idl, new AnchorProvider(connection, wallet, { commitment: "confirmed" }));
  if (program.programId.toBase58() !== need("INTEROP_PROGRAM_ID")) {
    throw new Error(`the IDL's address is ${program.programId.toBase58()}, the localnet's program is ${need("INTEROP_PROGRAM_ID")}`);
  }
  if (!program.account.escrow) throw new Error(`the IDL has no Escrow account (accounts: ${(idl.accounts ?? []).map((a) => a.name).join(", ")})`);

  const owner = new web3.PublicKey(need("INTEROP_ESCROW_OWNER"));
  const mint = new web3.PublicKey(need("INTEROP_MINT"));
  const [escrow] = web3.PublicKey.findProgramAddressSync([Buffer.from("escrow"), owner.toBuffer(), mint.toBuffer()], program.programId);
  const [vault] = web3.PublicKey.findProgramAddressSync([Buffer.from("vault"), escrow.toBuffer()], program.programId);
  const decoded = await program.account.escrow.fetch(escrow);

  const problems = [];
  if (!decoded.owner?.equals(owner)) problems.push(`owner ${decoded.owner} (expected ${owner})`);
  if (!decoded.mint?.equals(mint)) problems.push(`mint ${decoded.mint} (expected ${mint})`);
  if (!decoded.vault?.equals(vault)) problems.push(`vault ${decoded.vault} (expected the PDA ${vault})`);
  if (decoded.funded?.toString() !== need("INTEROP_ESCROW_FUNDED")) problems.push(`funded ${decoded.funded} (expected ${need("INTEROP_ESCROW_FUNDED")})`);
  if (decoded.committed?.toString() !== "0") problems.push(`committed ${decoded.committed} (expected 0)`);
  if (problems.length) throw new Error(`decoded the escrow ${escrow} but: ${problems.join("; ")}`);
  const fields = Object.keys(decoded).join(", ");
  return `Program(idl) at ${program.programId.toBase58().slice(0, 8)}…, account.escrow.fetch(${escrow.toBase58().slice(0, 8)}…) decoded {${fields}}: owner, mint, vault PDA match, funded ${decoded.funded}, committed ${decoded.committed}, noticeSecs ${decoded.noticeSecs}`;
});
