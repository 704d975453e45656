// oidc-provider (a certified OpenID provider) as a real RFC 9068 authorization server for
// tests/oidc_provider.rs.
//
//   node server.mjs [PORT]        (or PORT=...; default 0: any free port)
//
// Listens on 127.0.0.1 and prints one JSON line on stdout once it accepts connections:
//   {"issuer":"http://127.0.0.1:PORT","kid":"<current signing kid>"}
//
// It issues JWT access tokens (RFC 9068, typ at+jwt, RS256) for the client credentials grant
// with the resource indicator https://api.example (RFC 8707), to one static client:
//   client_id interop-client, client_secret interop-secret, client_secret_basic.
//
// Key rotation, for the tests only: POST /test-admin/rotate builds a new Provider whose
// keystore is [new key, previous key]; oidc-provider signs with the first key that fits the
// algorithm, and both stay published in its jwks_uri. Answers {"kid": "<new kid>", "published": [...]}.
// GET /test-admin/requests answers the requests the provider has served so far
// (["GET /.well-known/oauth-authorization-server", ...]), to show which metadata path answered.
// The admin paths are outside the provider; the server only ever listens on 127.0.0.1.

import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import process from 'node:process';

import Provider, { errors } from 'oidc-provider';

const RESOURCE = 'https://api.example';
const SCOPES = 'items:read items:write';

function newSigningKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  return { ...jwk, kid: `rsa-${randomUUID()}`, alg: 'RS256', use: 'sig' };
}

function buildProvider(issuer, keys) {
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: 'interop-client',
        client_secret: 'interop-secret',
        token_endpoint_auth_method: 'client_secret_basic',
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        scope: SCOPES,
      },
    ],
    jwks: { keys },
    scopes: SCOPES.split(' '),
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => undefined,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, resourceIndicator) => {
          if (resourceIndicator === RESOURCE) {
            return {
              scope: SCOPES,
              audience: RESOURCE,
              accessTokenTTL: 5 * 60,
              accessTokenFormat: 'jwt',
              jwt: { sign: { alg: 'RS256' } },
            };
          }
          throw new errors.InvalidTarget();
        },
      },
    },
  });
  // Errors are answered to the client; keep the test output quiet unless asked.
  if (process.env.OIDC_PROVIDER_DEBUG) {
    provider.on('server_error', (_ctx, err) => console.error('server_error', err));
    provider.on('grant.error', (_ctx, err) => console.error('grant.error', err));
  }
  return provider;
}

const portArg = process.argv[2] ?? process.env.PORT ?? '0';
const port = Number.parseInt(portArg, 10);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`invalid port ${JSON.stringify(portArg)}`);
  process.exit(2);
}

let keys = [newSigningKey()];
let provider;
let handler;
const served = [];

const server = createServer((req, res) => {
  if (req.url === '/test-admin/rotate' && req.method === 'POST') {
    keys = [newSigningKey(), ...keys];
    provider = buildProvider(provider.issuer, keys);
    handler = provider.callback();
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ kid: keys[0].kid, published: keys.map((k) => k.kid) }));
    return;
  }
  if (req.url === '/test-admin/requests' && req.method === 'GET') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(served));
    return;
  }
  served.push(`${req.method} ${req.url}`);
  handler(req, res);
});

server.listen(port, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  provider = buildProvider(issuer, keys);
  handler = provider.callback();
  process.stdout.write(`${JSON.stringify({ issuer, kid: keys[0].kid })}\n`);
});

// The test harness kills us; also stop when its stdin closes (the parent died).
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => process.exit(0));
}
