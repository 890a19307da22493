// Drives oauth4webapi (the OpenID-certified client library, pinned in package.json) against a
// running Portcullis server, with the library's own functions for every protocol step:
//
//   a. private_key_jwt + client_credentials: one Bearer token, then one DPoP-bound token;
//   b. the authorization-code flow of a second client with PAR + DPoP + PKCE (S256) and a nonce:
//      push the request with a DPoP proof, play the user with plain fetch (the sign-in form, the
//      consent page when shown, the 303 to the redirect URI), validate the authorization response
//      (state and iss), redeem the code with DPoP, check the ID token and token_type DPoP, call
//      /userinfo with DPoP, and refresh once with DPoP;
//   c. when API_URL is set, GET API_URL with a DPoP-bound access token (protectedResourceRequest);
//   d. when EXCHANGE_CLIENT_ID is set, Token Exchange (RFC 8693) of the client_credentials token;
//   e. when DEVICE_CLIENT_ID is set, the Device Authorization Grant (RFC 8628) of a public client
//      (no DPoP): two device authorizations for "openid profile offline_access", their answers
//      checked (user_code XXXX-XXXX of BCDFGHJKLMNPQRSTVWXZ, verification_uri ISSUER/device,
//      verification_uri_complete holding the code, interval 5); polls at once answered
//      authorization_pending, then slow_down (recorded; the interval then grows by 5 s); the person
//      played with plain fetch through the code page, the sign-in form and the consent page (always
//      shown in this flow), allowing the first and, signed in still, denying the second; then the
//      first polled until its tokens come (Bearer, a refresh token, the ID token validated) and the
//      second once, answered access_denied. Every poll waits out the interval; about 10 s in all.
// Each access token is also checked the way a resource server would check it, with oauth4webapi's
// validateJwtAccessToken (RFC 9068: typ at+jwt, signature by a key of jwks_uri, iss, aud, exp,
// sub, client_id, jti; for a DPoP token, cnf.jkt against a proof by the client's key).
//
// Every DPoP request is retried once when the server answers use_dpop_nonce (RFC 9449 §8 and §9),
// as oauth4webapi's documentation shows: its DPoP handle has kept the DPoP-Nonce of the answer.
// A DPoP handle caches nonces by origin, so on purpose some steps start from a new handle over the
// same key (as a restarted client would) and some reuse one:
//   /par              new handle: 400 use_dpop_nonce, retried;
//   /token (code)     new handle: 400 use_dpop_nonce, retried, so the code must survive the refusal;
//   /userinfo         the /token handle: the nonce /token gave is taken at /userinfo;
//   /token (refresh)  new handle: 400 use_dpop_nonce, retried, so the refresh token must survive;
//   /userinfo again   new handle: 401 WWW-Authenticate: DPoP error="use_dpop_nonce", retried.
// The JSON says for each step whether it was retried (dpop_nonce_retry).
// Progress goes to stderr; the last line on stdout is one JSON object saying what happened (with
// "ok": false and "error" on a failure, and exit status 1). Tokens, secrets and codes (device and
// user codes too) are never printed: a JWT access token is shown by a few of its claims only.
//
// Inputs, all from the environment (an empty variable counts as unset):
//   ISSUER            required. The issuer identifier, e.g. http://127.0.0.1:8080. Discovery is
//                     read from ISSUER/.well-known/openid-configuration (and checked against
//                     /.well-known/oauth-authorization-server). An http:// issuer is allowed (the
//                     library's allowInsecureRequests), for local tests only.
//   CLIENT_ID         required. The private_key_jwt client (grant client_credentials).
//   PRIVATE_KEY_FILE  required. That client's private key, PKCS#8 PEM (SEC1 and PKCS#1 are read
//                     too). EC P-256 signs ES256; an RSA key signs RS256, or PS256 with
//                     CLIENT_KEY_ALG=PS256 (`portcullis client jwks` marks an RSA key "alg":
//                     "PS256", so set it for such a key); an Ed25519 key signs with the alg
//                     oauth4webapi writes for it, "Ed25519" (RFC 9864), not "EdDSA".
//   CLIENT_KEY_ID     optional. The kid to put in the client assertion's header (none by default).
//   CLIENT_KEY_ALG    optional. PS256 to sign with RSA-PSS; otherwise the key decides.
//   CLIENT_SCOPE      optional. scope of the client_credentials requests (none: the default scope).
//   APP_CLIENT_ID     required. The code-flow client (grants authorization_code and refresh_token).
//   APP_REDIRECT_URI  required. One of its registered redirect URIs; nothing needs to listen there.
//   APP_CLIENT_SECRET optional. When set, the code-flow client is confidential and authenticates
//                     with client_secret_basic; unset, it is a public client (auth method none).
//   APP_SCOPE         optional. Default "openid profile email offline_access" (offline_access
//                     brings the refresh token).
//   USERNAME          required. The user who signs in (beware: some desktop shells set USERNAME).
//   PASSWORD          required. That user's password.
//   API_URL           optional. A protected API that accepts DPoP-bound tokens at GET API_URL;
//                     skipped when unset.
//   API_TOKEN         optional. Which DPoP-bound token goes to API_URL: client_credentials (the
//                     default) or code_flow.
//   API_RESOURCE      optional. A resource (RFC 8707) to ask for in the DPoP client_credentials
//                     request, for an API that checks the token's audience.
//   EXCHANGE_CLIENT_ID, EXCHANGE_CLIENT_SECRET, EXCHANGE_AUDIENCE
//                     optional. A client registered for token exchange (client_secret_basic) that
//                     trades the client_credentials token for one for EXCHANGE_AUDIENCE (RFC 8693);
//                     skipped when unset.
//   DEVICE_CLIENT_ID  optional. A public client (token_endpoint_auth_method none) with the grants
//                     urn:ietf:params:oauth:grant-type:device_code and refresh_token and the scope
//                     "openid profile offline_access", for step e; USERNAME signs in and allows (and
//                     then denies). Skipped when unset.
//   DPOP_ALG          optional. The algorithm of the DPoP keys: ES256 (the default), PS256, RS256
//                     or Ed25519 (oauth4webapi writes the proofs' alg as "Ed25519", RFC 9864).
//
//   cd interop/oauth4webapi && npm ci && ISSUER=... CLIENT_ID=... ... node run.mjs
//   (try.sh does all of it against a server of its own.)

import * as oauth from 'oauth4webapi'
import { createPrivateKey, webcrypto } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const LIBRARY_VERSION = require('oauth4webapi/package.json').version

// --- Inputs -------------------------------------------------------------------------------------

function env(name, { required = false, fallback } = {}) {
  const value = process.env[name]
  if (value === undefined || value === '') {
    if (required) fail('inputs', new Error(`the environment variable ${name} is required (see the top of run.mjs)`))
    return fallback
  }
  return value
}

const summary = { ok: false, oauth4webapi: LIBRARY_VERSION, node: process.version }
let step = 'inputs'

function log(message) {
  process.stderr.write(`run.mjs: ${message}\n`)
}

// Prints what happened so far, the error on stderr, and exits 1.
function fail(where, err) {
  summary.ok = false
  summary.failed_step = where
  summary.error = describeError(err)
  log(`FAILED in ${where}: ${summary.error.message}`)
  for (const [key, value] of Object.entries(summary.error)) {
    if (key !== 'message') log(`  ${key}: ${typeof value === 'string' ? value : JSON.stringify(value)}`)
  }
  process.stdout.write(`${JSON.stringify(summary)}\n`)
  process.exit(1)
}

// --- Keeping secrets out of the output ------------------------------------------------------------

const SECRET_KEYS = /^(access_token|refresh_token|id_token|client_assertion|client_secret|code|code_verifier|device_code|user_code|password|csrf|dpop|authorization|cookie|set-cookie)$/i

function redact(value, depth = 0) {
  if (depth > 6) return '…'
  if (typeof value === 'string') return value.length > 300 ? `${value.slice(0, 300)}… (${value.length} chars)` : value
  if (Array.isArray(value)) return value.map((item) => redact(item, depth + 1))
  if (value instanceof Response) {
    return { http_status: value.status, content_type: value.headers.get('content-type') }
  }
  if (value instanceof Error) {
    return [value.code, value.message].filter(Boolean).join(': ')
  }
  if (value && typeof value === 'object') {
    const out = {}
    for (const [key, item] of Object.entries(value)) {
      out[key] = SECRET_KEYS.test(key) && item !== undefined && item !== null
        ? `<redacted ${String(item).length} chars>`
        : redact(item, depth + 1)
    }
    return out
  }
  return value
}

function describeError(err) {
  const out = { message: err?.message ?? String(err) }
  if (err?.name && err.name !== 'Error') out.type = err.name
  if (err?.code) out.code = err.code
  if (err instanceof oauth.ResponseBodyError) {
    out.http_status = err.status
    out.error = err.error
    if (err.error_description) out.error_description = err.error_description
  } else if (err instanceof oauth.WWWAuthenticateChallengeError) {
    out.http_status = err.status
    out.challenges = err.cause
  } else if (err instanceof oauth.AuthorizationResponseError) {
    out.error = err.error
    if (err.error_description) out.error_description = err.error_description
  } else if (err?.cause !== undefined) {
    out.cause = redact(err.cause)
  }
  if (err?.response instanceof Response) {
    out.http_status = err.response.status
    const nonce = err.response.headers.get('dpop-nonce')
    if (nonce) out.dpop_nonce_given = true
  }
  return out
}

// A token shown without its value: its length, and for a JWT the claims that say what it is.
function describeToken(token, expectedJkt) {
  if (typeof token !== 'string') return undefined
  const parts = token.split('.')
  if (parts.length !== 3) return { format: 'opaque', length: token.length }
  try {
    const header = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8'))
    const claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'))
    const out = { format: 'jwt', typ: header.typ, alg: header.alg, length: token.length }
    for (const claim of ['iss', 'sub', 'aud', 'client_id', 'scope']) {
      if (claims[claim] !== undefined) out[claim] = claims[claim]
    }
    if (claims.exp !== undefined && claims.iat !== undefined) out.lifetime = claims.exp - claims.iat
    if (claims.cnf?.jkt !== undefined) out.cnf_jkt = expectedJkt === undefined ? true : claims.cnf.jkt === expectedJkt
    else out.cnf_jkt = false
    return out
  } catch {
    return { format: 'unparsable jwt', length: token.length }
  }
}

// --- Small helpers -----------------------------------------------------------------------------

function check(condition, message) {
  if (!condition) throw new Error(message)
}

// Runs `attempt` (a request and the processing of its answer); when oauth4webapi says the server
// wants a DPoP nonce (the handle has already kept the one the answer carried), runs it once more.
async function withDPoPNonceRetry(record, attempt) {
  try {
    return await attempt()
  } catch (err) {
    if (!oauth.isDPoPNonceError(err)) throw err
    record.dpop_nonce_retry = true
    log(`  ${step}: the server asked for a DPoP nonce (use_dpop_nonce); retrying once with it`)
    return await attempt()
  }
}

// The token_type exactly as the server wrote it (oauth4webapi lower-cases it).
async function wireTokenType(response) {
  try {
    const body = await response.clone().json()
    return body?.token_type
  } catch {
    return undefined
  }
}

async function importClientKey(file, alg) {
  const pem = readFileSync(file)
  const keyObject = createPrivateKey(pem)
  const der = keyObject.export({ format: 'der', type: 'pkcs8' })
  let algorithm
  switch (keyObject.asymmetricKeyType) {
    case 'ec': {
      const curve = keyObject.asymmetricKeyDetails?.namedCurve
      check(curve === 'prime256v1' || curve === 'P-256', `PRIVATE_KEY_FILE: an EC key must be P-256 (ES256), not ${curve}`)
      algorithm = { name: 'ECDSA', namedCurve: 'P-256' }
      break
    }
    case 'rsa':
      algorithm = alg === 'PS256' ? { name: 'RSA-PSS', hash: 'SHA-256' } : { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }
      break
    case 'ed25519':
      algorithm = { name: 'Ed25519' }
      break
    default:
      throw new Error(`PRIVATE_KEY_FILE: unsupported key type ${keyObject.asymmetricKeyType}`)
  }
  return webcrypto.subtle.importKey('pkcs8', der, algorithm, false, ['sign'])
}

// --- Playing the user: a tiny browser for Portcullis's HTML forms ----------------------------------

function decodeEntities(text) {
  return text
    .replace(/&#x([0-9a-f]+);/gi, (_, hex) => String.fromCodePoint(parseInt(hex, 16)))
    .replace(/&#([0-9]+);/g, (_, dec) => String.fromCodePoint(parseInt(dec, 10)))
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&')
}

function attributes(tagText) {
  const out = {}
  const re = /([^\s"'<>\/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g
  let m
  while ((m = re.exec(tagText))) {
    out[m[1].toLowerCase()] = decodeEntities(m[2] ?? m[3] ?? m[4] ?? '')
  }
  return out
}

function textOf(html) {
  return decodeEntities(html.replace(/<[^>]*>/g, ' ')).replace(/\s+/g, ' ').trim()
}

// The first POST form of a page: its action, hidden fields, the names of its inputs, the values of
// its other inputs (as the page pre-fills them) and the values of its name="action" buttons; and the
// page's heading and text, for error messages.
function parsePage(html) {
  const heading = textOf(html.match(/<h1\b[^>]*>([\s\S]*?)<\/h1>/i)?.[1] ?? '')
  const body = textOf(html.match(/<main\b[^>]*>([\s\S]*?)<\/main>/i)?.[1] ?? html).slice(0, 400)
  const forms = [...html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)]
  const form = forms.find((f) => (attributes(f[1]).method ?? '').toLowerCase() === 'post')
  if (!form) return { heading, body, form: undefined }
  const action = attributes(form[1]).action ?? ''
  const hidden = []
  const inputs = new Set()
  const fields = new Map()
  for (const input of form[2].matchAll(/<input\b([^>]*)>/gi)) {
    const a = attributes(input[1])
    if (!a.name) continue
    inputs.add(a.name)
    if ((a.type ?? '').toLowerCase() === 'hidden') hidden.push([a.name, a.value ?? ''])
    else fields.set(a.name, a.value ?? '')
  }
  const buttons = []
  for (const button of form[2].matchAll(/<button\b([^>]*)>/gi)) {
    const a = attributes(button[1])
    if (a.name === 'action') buttons.push(a.value)
  }
  return { heading, body, form: { action, hidden, inputs, fields, buttons } }
}

class Browser {
  #cookies = new Map()

  async request(method, url, form) {
    const headers = { accept: 'text/html' }
    const cookie = [...this.#cookies].map(([name, value]) => `${name}=${value}`).join('; ')
    if (cookie) headers.cookie = cookie
    let body
    if (form) {
      body = new URLSearchParams(form).toString()
      headers['content-type'] = 'application/x-www-form-urlencoded'
    }
    const response = await fetch(url, { method, headers, body, redirect: 'manual' })
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';')
      const eq = pair.indexOf('=')
      if (eq < 1) continue
      const name = pair.slice(0, eq).trim()
      const value = pair.slice(eq + 1).trim()
      const expired = attrs.some((attr) => /^\s*max-age\s*=\s*(0|-)/i.test(attr))
      if (expired || value === '') this.#cookies.delete(name)
      else this.#cookies.set(name, value)
    }
    const location = response.headers.get('location')
    const text = await response.text()
    log(`  browser: ${method} ${new URL(url).pathname} -> ${response.status}${location ? ` (Location ${new URL(location, url).origin}${new URL(location, url).pathname}…)` : ''}`)
    return { status: response.status, location: location ? new URL(location, url).href : undefined, text }
  }

  get cookieNames() {
    return [...this.#cookies.keys()]
  }
}

// From the authorization URL to the redirect back to redirectUri; returns that URL.
async function playUser(authorizationUrl, redirectUri, username, password, record) {
  const browser = new Browser()
  const pages = []
  let current = authorizationUrl.href
  let response = await browser.request('GET', current)
  for (let hop = 0; hop < 6; hop++) {
    if (response.status >= 300 && response.status < 400) {
      check(response.location, `${response.status} without a Location`)
      if (response.location.startsWith(redirectUri)) {
        record.final_status = response.status
        record.pages = pages
        record.cookies = browser.cookieNames
        return new URL(response.location)
      }
      check(new URL(response.location).origin === authorizationUrl.origin,
        `redirected to ${new URL(response.location).origin}, neither the server nor the redirect URI`)
      current = response.location
      response = await browser.request('GET', current)
      continue
    }
    const page = parsePage(response.text)
    check(!(page.form?.inputs.has('password') && pages.includes('login')),
      `the sign-in was refused (HTTP ${response.status}): ${page.body}`)
    check(response.status === 200 && page.form,
      `expected a page with a form, got HTTP ${response.status}: ${page.heading || '(no heading)'}: ${page.body}`)
    const { form } = page
    const data = [...form.hidden]
    let kind
    if (form.inputs.has('password') && form.buttons.includes('login')) {
      kind = 'login'
      data.push(['username', username], ['password', password], ['action', 'login'])
    } else if (form.buttons.includes('allow')) {
      check(!pages.includes('consent'), `the consent page came back: ${page.body}`)
      kind = 'consent'
      data.push(['action', 'allow'])
    } else {
      throw new Error(`no sign-in form or Allow button on the page "${page.heading}": ${page.body}`)
    }
    pages.push(kind)
    log(`  browser: page "${page.heading}" (${kind})`)
    current = new URL(form.action || current, current).href
    response = await browser.request('POST', current, data)
  }
  throw new Error(`no redirect to ${redirectUri} after ${pages.length} pages`)
}

// --- Playing the user of a device (RFC 8628 §3.3) ----------------------------------------------

// A user code as RFC 8628 §6.1 suggests and Portcullis makes them: eight of twenty consonants,
// shown as XXXX-XXXX.
const USER_CODE = /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/
const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code'
// What the device asks for: an ID token, the profile, and a refresh token.
const DEVICE_SCOPE = 'openid profile offline_access'

// The shape of a user code without the code: each letter of the alphabet becomes X.
function userCodeShape(userCode) {
  return String(userCode).replace(/[BCDFGHJKLMNPQRSTVWXZ]/g, 'X')
}

// A user code as typed, compared the way the server compares: no dashes or spaces, upper case.
function normalizeUserCode(userCode) {
  return String(userCode ?? '').replace(/[\s-]/g, '').toUpperCase()
}

// The first 300 characters of a page's text, for an error message, with the given secrets (the
// password, the user code) taken out. Hidden inputs are tags, so their values (csrf) are not text.
function pageExcerpt(html, secrets) {
  const main = html.match(/<main\b[^>]*>([\s\S]*?)<\/main>/i)?.[1] ?? html.replace(/<(head|script|style)\b[\s\S]*?<\/\1>/gi, ' ')
  let text = textOf(main)
  for (const secret of secrets) {
    if (secret) text = text.split(secret).join('<redacted>')
  }
  return text.length > 300 ? `${text.slice(0, 300)}… (${text.length} chars)` : text
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

// Opens verification_uri_complete in `browser` and follows the server's forms to the end: the code
// page (its user_code field pre-filled), the sign-in page when nobody is signed in, and the consent
// page, answered with `decision` ("allow" or "deny"). Generic: each page's POST form is sent back
// with every hidden input it holds, plus what the kind of page asks for. The page after the
// decision ends it; after allow it must tell the person to return to their device. Returns the
// kinds of pages seen, in order, and what the last page said.
async function playDeviceUser(browser, grant, decision, username, password) {
  const origin = new URL(grant.verification_uri).origin
  const expectedCode = normalizeUserCode(grant.user_code)
  const secrets = [password, grant.user_code, expectedCode]
  const unexpected = (what, response, page) =>
    `${what} (HTTP ${response.status}, page "${page.heading || '(no heading)'}"): ${pageExcerpt(response.text, secrets)}`
  const pages = []
  const actions = new Set()
  let current = grant.verification_uri_complete
  let response = await browser.request('GET', current)
  for (let hop = 0; hop < 8; hop++) {
    if (response.status >= 300 && response.status < 400) {
      check(response.location, `${response.status} without a Location`)
      check(new URL(response.location).origin === origin, `redirected to ${new URL(response.location).origin}, not the server`)
      current = response.location
      response = await browser.request('GET', current)
      continue
    }
    const page = parsePage(response.text)
    if (pages.includes('consent')) {
      check(response.status === 200, unexpected(`after ${decision}, expected HTTP 200`, response, page))
      const returnToDevice = /return to your device/i.test(textOf(response.text))
      check(decision !== 'allow' || returnToDevice,
        unexpected('after allow, expected a page that says "return to your device"', response, page))
      return { pages, form_actions: [...actions], final_status: response.status, final_heading: page.heading, return_to_device: returnToDevice }
    }
    check(!/return to your device/i.test(textOf(response.text)),
      unexpected(`the device was let in without the consent page, which the device flow must always show (pages: ${pages.join(', ')})`, response, page))
    check(response.status === 200 && page.form, unexpected('expected a page with a POST form', response, page))
    const { form } = page
    const data = [...form.hidden]
    let kind
    if (form.inputs.has('password') && form.buttons.includes('login')) {
      check(!pages.includes('login'), unexpected('the sign-in was refused', response, page))
      kind = 'login'
      data.push(['username', username], ['password', password], ['action', 'login'])
    } else if (form.buttons.includes('allow') && form.buttons.includes('deny')) {
      kind = 'consent'
      data.push(['action', decision])
    } else if (form.buttons.includes('code') && form.fields.has('user_code')) {
      check(!pages.includes('code'), unexpected('the user code was refused', response, page))
      const typed = form.fields.get('user_code')
      check(normalizeUserCode(typed) === expectedCode,
        unexpected(`the code page's user_code field is not pre-filled with the user code (it holds ${typed.length} chars)`, response, page))
      kind = 'code'
      data.push(['user_code', typed], ['action', 'code'])
    } else {
      throw new Error(unexpected(
        `expected the code page (user_code and action=code), the sign-in page or the consent page (action=allow/deny); the form has inputs [${[...form.inputs].join(', ')}] and buttons [${form.buttons.join(', ')}]`,
        response, page))
    }
    pages.push(kind)
    log(`  browser: page "${page.heading}" (${kind}${kind === 'consent' ? `: ${decision}` : ''})`)
    const target = new URL(form.action || current, current)
    check(target.origin === origin, `the ${kind} form posts to ${target.origin}, not the server`)
    actions.add(target.pathname)
    current = target.href
    response = await browser.request('POST', current, data)
  }
  throw new Error(`no end after the pages ${pages.join(', ')}`)
}

// --- The run --------------------------------------------------------------------------------------

async function main() {
  const issuerText = env('ISSUER', { required: true })
  const clientId = env('CLIENT_ID', { required: true })
  const privateKeyFile = env('PRIVATE_KEY_FILE', { required: true })
  const clientKeyId = env('CLIENT_KEY_ID')
  const clientKeyAlg = env('CLIENT_KEY_ALG')
  const clientScope = env('CLIENT_SCOPE')
  const appClientId = env('APP_CLIENT_ID', { required: true })
  const appRedirectUri = env('APP_REDIRECT_URI', { required: true })
  const appClientSecret = env('APP_CLIENT_SECRET')
  const appScope = env('APP_SCOPE', { fallback: 'openid profile email offline_access' })
  const username = env('USERNAME', { required: true })
  const password = env('PASSWORD', { required: true })
  const apiUrlText = env('API_URL')
  const exchangeClientId = env('EXCHANGE_CLIENT_ID')
  const exchangeClientSecret = env('EXCHANGE_CLIENT_SECRET', { required: Boolean(exchangeClientId) })
  const exchangeAudience = env('EXCHANGE_AUDIENCE', { required: Boolean(exchangeClientId) })
  const apiToken = env('API_TOKEN', { fallback: 'client_credentials' })
  const apiResource = env('API_RESOURCE')
  const deviceClientId = env('DEVICE_CLIENT_ID')
  check(apiToken === 'client_credentials' || apiToken === 'code_flow', `API_TOKEN must be client_credentials or code_flow, not ${apiToken}`)

  const issuer = new URL(issuerText)
  summary.issuer = issuerText
  // oauth4webapi refuses http:// unless told; only for a local test server.
  const insecure = (url) => (url.protocol === 'http:' ? { [oauth.allowInsecureRequests]: true } : {})
  const httpOptions = insecure(issuer)

  // --- Discovery ---
  step = 'discovery'
  log('discovery')
  const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oidc', ...httpOptions }))
  const as2 = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...httpOptions }))
  check(as2.issuer === as.issuer && as2.token_endpoint === as.token_endpoint,
    '/.well-known/oauth-authorization-server and /.well-known/openid-configuration disagree')
  for (const key of ['token_endpoint', 'pushed_authorization_request_endpoint', 'userinfo_endpoint', 'authorization_endpoint']) {
    check(typeof as[key] === 'string', `discovery has no ${key}`)
  }
  summary.discovery = {
    issuer: as.issuer,
    oauth_authorization_server_agrees: true,
    private_key_jwt: as.token_endpoint_auth_methods_supported?.includes('private_key_jwt') ?? false,
    dpop_algs: as.dpop_signing_alg_values_supported,
    par: as.pushed_authorization_request_endpoint !== undefined,
    iss_parameter: as.authorization_response_iss_parameter_supported === true,
    device_authorization: as.device_authorization_endpoint !== undefined,
    device_code_grant: as.grant_types_supported?.includes(DEVICE_CODE_GRANT) ?? false,
  }

  const dpopAlg = env('DPOP_ALG', { fallback: 'ES256' })
  check(['ES256', 'PS256', 'RS256', 'Ed25519'].includes(dpopAlg), `DPOP_ALG must be ES256, PS256, RS256 or Ed25519, not ${dpopAlg}`)
  const generateDPoPKeys = () => oauth.generateKeyPair(dpopAlg)

  // Checks an access token as a resource server would, with oauth4webapi's RFC 9068 validator: the
  // request that protectedResourceRequest builds (with a DPoP proof by `dpop`'s key when given) is
  // handed to validateJwtAccessToken instead of being sent anywhere. The audience expected is the
  // token's own (`aud`, or its first value): what is checked is the signature by a key of the
  // server's jwks_uri, typ at+jwt, the required claims, iss, exp, and the DPoP binding.
  async function validateAsResourceServer(accessToken, dpop) {
    const claims = JSON.parse(Buffer.from(accessToken.split('.')[1] ?? '', 'base64url').toString('utf8') || '{}')
    const audience = Array.isArray(claims.aud) ? claims.aud[0] : claims.aud
    check(typeof audience === 'string', 'the access token has no aud claim')
    let validated
    const response = await oauth.protectedResourceRequest(accessToken, 'GET', new URL('https://resource-server.invalid/check'), undefined, null, {
      ...(dpop ? { DPoP: dpop } : {}),
      [oauth.customFetch]: async (href, init) => {
        const request = new Request(href, init)
        validated = await oauth.validateJwtAccessToken(as, request, audience, { requireDPoP: dpop !== undefined, ...httpOptions })
        return new Response(null, { status: 204 })
      },
    })
    check(response.status === 204 && validated !== undefined, 'validateJwtAccessToken did not run')
    return true
  }

  // /userinfo with a DPoP-bound token, and processUserInfoResponse against the ID token's sub.
  async function callUserinfo(accessToken, dpop, expectedSub) {
    const record = {}
    const userinfo = await withDPoPNonceRetry(record, async () => {
      const response = await oauth.userInfoRequest(as, app, accessToken, { DPoP: dpop, ...httpOptions })
      return oauth.processUserInfoResponse(as, app, expectedSub ?? oauth.skipSubjectCheck, response)
    })
    return { sub: userinfo.sub, claims: Object.keys(userinfo).sort(), dpop_nonce_retry: record.dpop_nonce_retry ?? false }
  }

  // --- a. private_key_jwt + client_credentials ---
  step = 'client_credentials'
  log(`client_credentials as ${clientId} with private_key_jwt`)
  const clientKey = await importClientKey(privateKeyFile, clientKeyAlg)
  const service = { client_id: clientId, token_endpoint_auth_method: 'private_key_jwt' }
  const serviceAuth = oauth.PrivateKeyJwt(clientKeyId ? { key: clientKey, kid: clientKeyId } : clientKey)
  let serviceBearerToken
  const ccParameters = () => {
    const p = new URLSearchParams()
    if (clientScope) p.set('scope', clientScope)
    return p
  }
  {
    const response = await oauth.clientCredentialsGrantRequest(as, service, serviceAuth, ccParameters(), httpOptions)
    const tokenType = await wireTokenType(response)
    const tokens = await oauth.processClientCredentialsResponse(as, service, response)
    check(tokens.token_type === 'bearer', `token_type ${tokenType}, expected Bearer (no DPoP proof was sent)`)
    serviceBearerToken = tokens.access_token
    summary.client_credentials = {
      token_type: tokenType,
      expires_in: tokens.expires_in,
      scope: tokens.scope,
      refresh_token: tokens.refresh_token !== undefined,
      access_token: describeToken(tokens.access_token),
    }
    step = 'client_credentials_rs_check'
    summary.client_credentials.access_token.rs_validated = await validateAsResourceServer(tokens.access_token)
  }

  step = 'client_credentials_dpop'
  log(`client_credentials as ${clientId} with private_key_jwt and DPoP`)
  const serviceDPoPKeys = await generateDPoPKeys()
  const serviceDPoP = oauth.DPoP(service, serviceDPoPKeys)
  const serviceJkt = await serviceDPoP.calculateThumbprint()
  let serviceDPoPToken
  {
    const record = {}
    const tokens = await withDPoPNonceRetry(record, async () => {
      const p = ccParameters()
      if (apiResource) p.set('resource', apiResource)
      const response = await oauth.clientCredentialsGrantRequest(as, service, serviceAuth, p, { DPoP: serviceDPoP, ...httpOptions })
      record.token_type = await wireTokenType(response)
      return oauth.processClientCredentialsResponse(as, service, response)
    })
    check(tokens.token_type === 'dpop', `token_type ${record.token_type}, expected DPoP (RFC 9449 §5)`)
    serviceDPoPToken = tokens.access_token
    summary.client_credentials_dpop = {
      token_type: record.token_type,
      dpop_nonce_retry: record.dpop_nonce_retry ?? false,
      expires_in: tokens.expires_in,
      scope: tokens.scope,
      access_token: describeToken(tokens.access_token, serviceJkt),
    }
    check(summary.client_credentials_dpop.access_token.format !== 'jwt' || summary.client_credentials_dpop.access_token.cnf_jkt === true,
      'the DPoP-bound access token has no cnf.jkt of the proof key')
    step = 'client_credentials_dpop_rs_check'
    summary.client_credentials_dpop.access_token.rs_validated = await validateAsResourceServer(tokens.access_token, oauth.DPoP(service, serviceDPoPKeys))
  }

  // --- b. authorization code + PAR + DPoP + PKCE ---
  step = 'code_flow_par'
  const app = { client_id: appClientId, token_endpoint_auth_method: appClientSecret ? 'client_secret_basic' : 'none' }
  const appAuth = appClientSecret ? oauth.ClientSecretBasic(appClientSecret) : oauth.None()
  const code = { client: appClientId, client_auth: app.token_endpoint_auth_method }
  summary.code_flow = code
  log(`authorization code flow as ${appClientId} (${app.token_endpoint_auth_method}): PAR with DPoP`)
  const appDPoPKeys = await generateDPoPKeys()
  // A new DPoP handle over the app's one key: no nonce cached (see the top of this file).
  const newAppDPoP = () => oauth.DPoP(app, appDPoPKeys)
  const appJkt = await newAppDPoP().calculateThumbprint()
  const codeVerifier = oauth.generateRandomCodeVerifier()
  const codeChallenge = await oauth.calculatePKCECodeChallenge(codeVerifier)
  const state = oauth.generateRandomState()
  const openid = appScope.split(' ').includes('openid')
  const nonce = openid ? oauth.generateRandomNonce() : undefined
  const parRecord = {}
  const parDPoP = newAppDPoP()
  const pushed = await withDPoPNonceRetry(parRecord, async () => {
    const parameters = new URLSearchParams({
      response_type: 'code',
      redirect_uri: appRedirectUri,
      scope: appScope,
      state,
      code_challenge: codeChallenge,
      code_challenge_method: 'S256',
    })
    if (nonce) parameters.set('nonce', nonce)
    const response = await oauth.pushedAuthorizationRequest(as, app, appAuth, parameters, { DPoP: parDPoP, ...httpOptions })
    return oauth.processPushedAuthorizationResponse(as, app, response)
  })
  code.par = {
    dpop_nonce_retry: parRecord.dpop_nonce_retry ?? false,
    expires_in: pushed.expires_in,
    request_uri_is_urn: pushed.request_uri.startsWith('urn:ietf:params:oauth:request_uri:'),
  }

  step = 'code_flow_user'
  log(`signing in as ${username}`)
  const authorizationUrl = new URL(as.authorization_endpoint)
  authorizationUrl.searchParams.set('client_id', appClientId)
  authorizationUrl.searchParams.set('request_uri', pushed.request_uri)
  const browserRecord = {}
  const callback = await playUser(authorizationUrl, appRedirectUri, username, password, browserRecord)
  code.pages = browserRecord.pages
  code.redirect_status = browserRecord.final_status

  step = 'code_flow_callback'
  const callbackParameters = oauth.validateAuthResponse(as, app, callback, state)
  code.callback = {
    iss_checked: as.authorization_response_iss_parameter_supported === true && callback.searchParams.get('iss') === as.issuer,
    state_checked: true,
    code: callbackParameters.has('code'),
  }

  step = 'code_flow_token'
  log('redeeming the code with DPoP (a new DPoP handle)')
  const tokenRecord = {}
  const tokenDPoP = newAppDPoP()
  const tokens = await withDPoPNonceRetry(tokenRecord, async () => {
    const response = await oauth.authorizationCodeGrantRequest(as, app, appAuth, callbackParameters, appRedirectUri, codeVerifier, { DPoP: tokenDPoP, ...httpOptions })
    tokenRecord.token_type = await wireTokenType(response)
    return oauth.processAuthorizationCodeResponse(as, app, response, nonce ? { expectedNonce: nonce, requireIdToken: true } : {})
  })
  check(tokens.token_type === 'dpop', `token_type ${tokenRecord.token_type}, expected DPoP (RFC 9449 §5)`)
  const idClaims = oauth.getValidatedIdTokenClaims(tokens)
  code.token_type = tokenRecord.token_type
  code.dpop_nonce_retry = tokenRecord.dpop_nonce_retry ?? false
  code.expires_in = tokens.expires_in
  code.scope = tokens.scope
  code.access_token = describeToken(tokens.access_token, appJkt)
  code.refresh_token = tokens.refresh_token !== undefined
  if (idClaims) {
    code.id_token = {
      sub: idClaims.sub,
      aud: idClaims.aud,
      nonce_checked: nonce !== undefined,
      alg: JSON.parse(Buffer.from(tokens.id_token.split('.')[0], 'base64url').toString('utf8')).alg,
    }
  }
  check(code.access_token.format !== 'jwt' || code.access_token.cnf_jkt === true, 'the DPoP-bound access token has no cnf.jkt of the proof key')
  step = 'code_flow_token_rs_check'
  code.access_token.rs_validated = await validateAsResourceServer(tokens.access_token, newAppDPoP())

  if (openid) {
    step = 'code_flow_userinfo'
    log('userinfo with DPoP (the handle of the code exchange, whose nonce it keeps)')
    code.userinfo = await callUserinfo(tokens.access_token, tokenDPoP, idClaims?.sub)
  }

  step = 'code_flow_refresh'
  check(tokens.refresh_token !== undefined, `no refresh token in the code exchange's answer (scope asked: ${appScope})`)
  log('refresh with DPoP (a new DPoP handle)')
  const refreshRecord = {}
  const refreshDPoP = newAppDPoP()
  const refreshed = await withDPoPNonceRetry(refreshRecord, async () => {
    const response = await oauth.refreshTokenGrantRequest(as, app, appAuth, tokens.refresh_token, { DPoP: refreshDPoP, ...httpOptions })
    refreshRecord.token_type = await wireTokenType(response)
    return oauth.processRefreshTokenResponse(as, app, response)
  })
  check(refreshed.token_type === 'dpop', `token_type ${refreshRecord.token_type} after the refresh, expected DPoP`)
  code.refreshed_token_type = refreshRecord.token_type
  code.refresh_dpop_nonce_retry = refreshRecord.dpop_nonce_retry ?? false
  code.refreshed_access_token = describeToken(refreshed.access_token, appJkt)
  code.refresh_token_rotated = refreshed.refresh_token !== undefined && refreshed.refresh_token !== tokens.refresh_token
  check(code.refreshed_access_token.format !== 'jwt' || code.refreshed_access_token.cnf_jkt === true,
    'the refreshed access token has no cnf.jkt of the proof key')
  step = 'code_flow_refresh_rs_check'
  code.refreshed_access_token.rs_validated = await validateAsResourceServer(refreshed.access_token, newAppDPoP())

  if (openid) {
    step = 'code_flow_userinfo_after_refresh'
    log('userinfo with the refreshed token and DPoP (a new DPoP handle)')
    code.userinfo_after_refresh = await callUserinfo(refreshed.access_token, newAppDPoP(), idClaims?.sub)
  }
  code.userinfo_sub = code.userinfo?.sub

  // --- c. a DPoP-bound call to a protected API ---
  if (apiUrlText) {
    step = 'api'
    const apiUrl = new URL(apiUrlText)
    const [accessToken, handle] = apiToken === 'code_flow' ? [refreshed.access_token, newAppDPoP()] : [serviceDPoPToken, oauth.DPoP(service, serviceDPoPKeys)]
    log(`GET ${apiUrl.origin}${apiUrl.pathname} with the ${apiToken} DPoP-bound token`)
    const record = { token: apiToken }
    summary.api = record
    const response = await withDPoPNonceRetry(record, () =>
      oauth.protectedResourceRequest(accessToken, 'GET', apiUrl, new Headers({ accept: 'application/json' }), null, { DPoP: handle, ...insecure(apiUrl) }))
    record.status = response.status
    record.content_type = response.headers.get('content-type')
    const text = await response.text()
    record.body = text.length > 200 ? `${text.slice(0, 200)}… (${text.length} chars)` : text
    record.dpop_nonce_retry = record.dpop_nonce_retry ?? false
    check(response.ok, `GET ${apiUrl.href} answered ${response.status}: ${record.body}`)
  } else {
    summary.api = { skipped: 'API_URL is not set' }
  }

  // --- d. Token Exchange (RFC 8693) of the client_credentials token ---
  if (exchangeClientId) {
    step = 'token_exchange'
    log(`token exchange as ${exchangeClientId}, for ${exchangeAudience}`)
    const exchanger = { client_id: exchangeClientId, token_endpoint_auth_method: 'client_secret_basic' }
    const parameters = new URLSearchParams({
      subject_token: serviceBearerToken,
      subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      audience: exchangeAudience,
    })
    const response = await oauth.genericTokenEndpointRequest(
      as, exchanger, oauth.ClientSecretBasic(exchangeClientSecret),
      'urn:ietf:params:oauth:grant-type:token-exchange', parameters, httpOptions)
    const tokens = await oauth.processGenericTokenEndpointResponse(as, exchanger, response)
    const claims = JSON.parse(Buffer.from(tokens.access_token.split('.')[1], 'base64url').toString())
    summary.token_exchange = {
      token_type: tokens.token_type,
      issued_token_type: tokens.issued_token_type,
      sub: claims.sub,
      client_id: claims.client_id,
      aud: claims.aud,
      rs_validated: await validateAsResourceServer(tokens.access_token),
    }
    check(tokens.issued_token_type === 'urn:ietf:params:oauth:token-type:access_token',
      `issued_token_type ${tokens.issued_token_type}`)
  } else {
    summary.token_exchange = { skipped: 'EXCHANGE_CLIENT_ID is not set' }
  }
  // --- e. Device Authorization Grant (RFC 8628), a public client ---
  // Two device authorizations, A and B, both polled at once (authorization_pending), A a second
  // time at once (slow_down, which lengthens A's interval by 5 s); then a person allows A and, in
  // the same browser, denies B; then A is polled until its tokens come and B once, each no sooner
  // than its interval after its last poll. The waits overlap: about 10 s in all.
  if (deviceClientId) {
    step = 'device_authorization'
    check(typeof as.device_authorization_endpoint === 'string', 'discovery has no device_authorization_endpoint')
    const device = { client_id: deviceClientId, token_endpoint_auth_method: 'none' }
    const deviceAuth = oauth.None()
    const record = { client: deviceClientId, client_auth: 'none', scope_asked: DEVICE_SCOPE, waited_ms: 0 }
    summary.device_flow = record
    const verificationUri = `${as.issuer.replace(/\/+$/, '')}/device`

    // A device authorization request, its answer checked; with the time of its last poll.
    const authorizeDevice = async (label) => {
      log(`device authorization (${label}) as ${deviceClientId} (public client)`)
      const response = await oauth.deviceAuthorizationRequest(as, device, deviceAuth, new URLSearchParams({ scope: DEVICE_SCOPE }), httpOptions)
      const grant = await oauth.processDeviceAuthorizationResponse(as, device, response)
      check(USER_CODE.test(grant.user_code),
        `${label}: the user_code is shaped "${userCodeShape(grant.user_code)}", not XXXX-XXXX of BCDFGHJKLMNPQRSTVWXZ`)
      check(grant.verification_uri === verificationUri, `${label}: verification_uri ${grant.verification_uri}, expected ${verificationUri}`)
      check(typeof grant.verification_uri_complete === 'string', `${label}: no verification_uri_complete`)
      const complete = new URL(grant.verification_uri_complete)
      check(`${complete.origin}${complete.pathname}` === verificationUri,
        `${label}: verification_uri_complete is at ${complete.origin}${complete.pathname}, not ${verificationUri}`)
      check(decodeURIComponent(grant.verification_uri_complete).includes(grant.user_code),
        `${label}: verification_uri_complete does not hold the user code`)
      check(grant.interval === 5, `${label}: interval ${grant.interval}, expected 5`)
      check(grant.expires_in > 0, `${label}: expires_in ${grant.expires_in}`)
      return {
        grant,
        interval: grant.interval,
        lastPoll: undefined,
        summary: {
          user_code_format: 'XXXX-XXXX',
          verification_uri: grant.verification_uri,
          verification_uri_complete_has_code: true,
          interval: grant.interval,
          expires_in: grant.expires_in,
        },
      }
    }

    // One poll of the token endpoint: the tokens, or the OAuth error oauth4webapi surfaced (a
    // ResponseBodyError); anything else is thrown. Notes when the poll was answered.
    const pollDevice = async (pending) => {
      try {
        const response = await oauth.deviceCodeGrantRequest(as, device, deviceAuth, pending.grant.device_code, httpOptions)
        const tokenType = await wireTokenType(response)
        try {
          return { tokens: await oauth.processDeviceCodeResponse(as, device, response), tokenType }
        } catch (err) {
          if (err instanceof oauth.ResponseBodyError) {
            return { error: err.error, http_status: err.status, error_description: err.error_description }
          }
          throw err
        }
      } finally {
        pending.lastPoll = Date.now()
      }
    }
    const answered = (poll) => (poll.tokens ? 'tokens' : `${poll.error}${poll.error_description ? ` (${poll.error_description})` : ''}`)
    const pollRecord = (poll) => ({ error: poll.error, http_status: poll.http_status })

    // Sleeps until `pending`'s interval has passed since its last poll (the server counts whole
    // seconds: a little more, so that the poll is never early).
    const waitForInterval = async (pending, label) => {
      const ms = Math.max(0, pending.lastPoll + pending.interval * 1000 + 300 - Date.now())
      if (ms > 0) {
        log(`  waiting ${(ms / 1000).toFixed(1)} s before polling ${label} (interval ${pending.interval} s)`)
        record.waited_ms += ms
        await sleep(ms)
      }
    }

    const approved = await authorizeDevice('A, to allow')
    record.authorization = approved.summary

    step = 'device_poll_pending'
    log('polling A at once: the person has done nothing yet')
    const firstPoll = await pollDevice(approved)
    check(firstPoll.error === 'authorization_pending',
      `the first poll, before the person did anything: expected authorization_pending, got ${answered(firstPoll)}`)
    record.first_poll = pollRecord(firstPoll)
    log('polling A again at once, sooner than the interval')
    const secondPoll = await pollDevice(approved)
    check(secondPoll.error === 'slow_down' || secondPoll.error === 'authorization_pending',
      `the second poll at once: expected slow_down (or authorization_pending), got ${answered(secondPoll)}`)
    record.second_poll = pollRecord(secondPoll)
    record.slow_down = secondPoll.error === 'slow_down'
    // RFC 8628 §3.5: the interval grows by 5 seconds for this and all later polls.
    if (record.slow_down) approved.interval += 5

    step = 'device_authorization_denied'
    const denied = await authorizeDevice('B, to deny')
    const deniedFirstPoll = await pollDevice(denied)
    check(deniedFirstPoll.error === 'authorization_pending',
      `B's first poll: expected authorization_pending, got ${answered(deniedFirstPoll)}`)
    record.denied = { first_poll: pollRecord(deniedFirstPoll) }

    step = 'device_user_allows'
    log(`as ${username} on another device: entering A's code and allowing`)
    const browser = new Browser()
    Object.assign(record, await playDeviceUser(browser, approved.grant, 'allow', username, password))

    step = 'device_user_denies'
    log(`as ${username}, still signed in: entering B's code and denying`)
    Object.assign(record.denied, await playDeviceUser(browser, denied.grant, 'deny', username, password))

    step = 'device_token'
    // Until the tokens come, but never far beyond the expected wait: a server that keeps saying
    // authorization_pending after the person allowed is a failure, not something to wait out.
    const giveUpAt = Date.now() + 20_000
    let polls = 0
    let result
    for (;;) {
      await waitForInterval(approved, 'A')
      result = await pollDevice(approved)
      polls += 1
      if (result.tokens) break
      if (result.error === 'slow_down') approved.interval += 5
      else check(result.error === 'authorization_pending', `polling A after the person allowed: ${answered(result)}`)
      check(approved.lastPoll + approved.interval * 1000 < giveUpAt,
        `no tokens after ${polls} poll(s) since the person allowed (last answer ${answered(result)}); not waiting ${approved.interval} s more`)
    }
    const { tokens, tokenType } = result
    record.polls_after_allow = polls
    check(tokens.token_type === 'bearer', `token_type ${tokenType}, expected Bearer (no DPoP proof was sent)`)
    check(tokens.refresh_token !== undefined, 'no refresh token, though offline_access was asked and the client may refresh')
    // processDeviceCodeResponse has validated the ID token: iss, aud, azp, exp, iat (no nonce in
    // this flow).
    const deviceIdClaims = oauth.getValidatedIdTokenClaims(tokens)
    check(deviceIdClaims !== undefined, 'no ID token, though openid was asked')
    record.token_type = tokenType
    record.expires_in = tokens.expires_in
    record.scope = tokens.scope
    record.access_token = describeToken(tokens.access_token)
    record.refresh_token = true
    record.id_token = {
      sub: deviceIdClaims.sub,
      aud: deviceIdClaims.aud,
      nonce: deviceIdClaims.nonce !== undefined,
      auth_time: typeof deviceIdClaims.auth_time === 'number',
      alg: JSON.parse(Buffer.from(tokens.id_token.split('.')[0], 'base64url').toString('utf8')).alg,
    }
    record.same_user_as_code_flow = code.id_token?.sub !== undefined && code.id_token.sub === deviceIdClaims.sub
    check(record.access_token.format !== 'jwt' || record.access_token.client_id === deviceClientId,
      `the access token's client_id is ${record.access_token.client_id}, not ${deviceClientId}`)
    step = 'device_token_rs_check'
    record.access_token.rs_validated = await validateAsResourceServer(tokens.access_token)

    step = 'device_denied_poll'
    await waitForInterval(denied, 'B')
    const deniedPoll = await pollDevice(denied)
    Object.assign(record.denied, { poll_error: deniedPoll.tokens ? 'none: tokens were issued' : deniedPoll.error, http_status: deniedPoll.http_status })
    check(deniedPoll.error === 'access_denied', `polling B after the person denied: expected access_denied, got ${answered(deniedPoll)}`)
  } else {
    summary.device_flow = { skipped: 'DEVICE_CLIENT_ID is not set' }
  }
}

try {
  await main()
  summary.ok = true
  delete summary.failed_step
  log('all steps passed')
  process.stdout.write(`${JSON.stringify(summary)}\n`)
} catch (err) {
  fail(step, err)
}
