// Prints a JWT for the claims given, signed with the secret given, valid for a day:
//   node tests/e2e/mint-jwt.mjs SECRET '{"sub":"u-client","role":"authenticated"}'
// (the demo uses it to call PostgREST as the fixtures' people).
import { SignJWT } from 'jose'

const [secret, claims] = process.argv.slice(2)
if (!secret || !claims) {
  console.error('usage: node tests/e2e/mint-jwt.mjs SECRET CLAIMS_JSON')
  process.exit(2)
}
const token = await new SignJWT({ aud: 'authenticated', ...JSON.parse(claims) })
  .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
  .setIssuedAt()
  .setExpirationTime('1d')
  .sign(new TextEncoder().encode(secret))
console.log(token)
