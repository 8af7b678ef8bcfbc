// cdnctl's viewer-request function (cloudfront-js-2.0), on the default cache
// behavior of a stack with releases (CDN_RELEASES). See function.rs for the
// layout it serves; cdnctl replaces the CONFIG line with the stack's values.
import cf from 'cloudfront';

const CONFIG = {"root":"_cdnctl","spa":null,"domain":null,"auth":null};

const kvs = cf.kvs();

// A content-hashed name: the last part of the stem (after '.' or '-') is 8
// to 64 letters, digits or '_', with at least one digit and one letter, as
// `app.5af66c1b1797.css` (Django) and `index-B1x9kQ2z.js` (Vite). Such files
// are shared by every release. function.rs's `is_hashed` is the same rule.
function isHashed(file) {
    const dot = file.lastIndexOf('.');
    if (dot <= 0) {
        return false;
    }
    const stem = file.substring(0, dot);
    const cut = Math.max(stem.lastIndexOf('.'), stem.lastIndexOf('-'));
    if (cut <= 0) {
        return false;
    }
    const hash = stem.substring(cut + 1);
    return /^[A-Za-z0-9_]{8,64}$/.test(hash) && /[0-9]/.test(hash) && /[A-Za-z]/.test(hash);
}

// A path's code, as route.rs's `code`: FNV-1a (32 bits) over its UTF-16
// code units, folded to 30 bits, written as 5 digits. The multiplication by
// the FNV prime (2^24 + 403) is done with shifts, exact below 2^53.
const DIGITS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

function pathCode(path) {
    let h = 2166136261;
    for (let i = 0; i < path.length; i++) {
        h ^= path.charCodeAt(i);
        h = (h + (h << 1) + (h << 4) + (h << 7) + (h << 8) + (h << 24)) >>> 0;
    }
    h = (h ^ (h >>> 30)) & 0x3fffffff;
    let code = '';
    for (let i = 0; i < 5; i++) {
        code = DIGITS.charAt(h & 63) + code;
        h = h >>> 6;
    }
    return code;
}

// The release holding `path` in a route (see route.rs): `id:codes,` entries,
// newest first, then the base release. The first entry whose codes have the
// path's holds it (or lacks it: deleted); otherwise the base does.
function resolve(route, path) {
    const entries = route.split(',');
    const code = pathCode(path);
    for (let i = 0; i < entries.length - 1; i++) {
        const colon = entries[i].indexOf(':');
        const codes = entries[i].substring(colon + 1);
        for (let at = codes.indexOf(code); at !== -1; at = codes.indexOf(code, at + 1)) {
            if (at % 5 === 0) {
                return entries[i].substring(0, colon);
            }
        }
    }
    return entries[entries.length - 1];
}

// The store key holding the route this request is served by: `preview:NAME`
// for the host NAME.<domain> (one label, with previews on), else `live`.
function routeKey(request) {
    if (CONFIG.domain && request.headers.host) {
        const host = request.headers.host.value.toLowerCase();
        const suffix = '.' + CONFIG.domain;
        const name = host.substring(0, host.length - suffix.length);
        if (host.endsWith(suffix) && name !== '' && name.indexOf('.') === -1) {
            return 'preview:' + name;
        }
    }
    return 'live';
}

// The key under a release's prefix for a URI, as S3 reads it: `+` is a
// space, then percent-decoded.
function keyOf(uri) {
    const path = uri.substring(1).replace(/\+/g, ' ');
    try {
        return decodeURIComponent(path);
    } catch (e) {
        return path;
    }
}

function answer(code, description, headers) {
    return {statusCode: code, statusDescription: description, headers: headers || {}};
}

async function handler(event) {
    const request = event.request;
    let uri = request.uri;
    let file = uri.substring(uri.lastIndexOf('/') + 1);
    if (file === '') {
        // Directory index: /docs/ serves docs/index.html.
        uri += 'index.html';
        file = 'index.html';
    } else if (file.indexOf('.') === -1) {
        // An extensionless path: the SPA's page when there is one, else the
        // directory's index (/docs serves docs/index.html). A missing .js,
        // .css or font is never answered with a page.
        if (CONFIG.spa) {
            uri = CONFIG.spa;
        } else {
            uri += '/index.html';
        }
        file = uri.substring(uri.lastIndexOf('/') + 1);
    }
    const key = routeKey(request);
    const preview = key !== 'live';
    if (preview && CONFIG.auth) {
        const given = request.headers.authorization;
        if (!given || given.value !== CONFIG.auth) {
            return answer(401, 'Unauthorized', {'www-authenticate': {value: 'Basic realm="preview"'}});
        }
    }
    let route = null;
    try {
        route = await kvs.get(key);
    } catch (e) {
        // No such key: no release published yet, or no such preview.
    }
    if (route) {
        const space = isHashed(file) ? '/assets' : '/releases/' + resolve(route, keyOf(uri));
        uri = '/' + CONFIG.root + space + uri;
    } else if (preview) {
        return answer(404, 'Not Found');
    }
    // Without a route (no release published yet) the bucket's files are
    // served in place.
    request.uri = uri;
    return request;
}
