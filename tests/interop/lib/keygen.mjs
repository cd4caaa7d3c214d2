// Writes a new Solana keypair file (a JSON array of the 32-byte secret seed
// followed by the 32-byte public key, as solana-keygen writes it) and prints
// its base58 address. Usage: node keygen.mjs FILE
import { generateKeyPairSync } from "node:crypto";
import { writeFileSync } from "node:fs";
import { getAddressDecoder } from "@solana/kit";

const file = process.argv[2];
if (!file) throw new Error("usage: node keygen.mjs FILE");
const { publicKey, privateKey } = generateKeyPairSync("ed25519");
const seed = privateKey.export({ format: "der", type: "pkcs8" }).subarray(-32);
const pub = publicKey.export({ format: "der", type: "spki" }).subarray(-32);
writeFileSync(file, JSON.stringify([...seed, ...pub]), { mode: 0o600 });
console.log(getAddressDecoder().decode(pub));
