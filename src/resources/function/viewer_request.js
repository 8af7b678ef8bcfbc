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

// The store key naming what this request is served from: `preview:NAME`
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

// The URI in the bucket for `path` (a visitor's, index and fallback
// applied) under `route`, the value a route key holds.
function resolve(route, path) {
    const file = path.substring(path.lastIndexOf('/') + 1);
    const space = isHashed(file) ? '/assets' : '/releases/' + route;
    return '/' + CONFIG.root + space + path;
}

function answer(code, description, headers) {
    return {statusCode: code, statusDescription: description, headers: headers || {}};
}

async function handler(event) {
    const request = event.request;
    let uri = request.uri;
    const last = uri.substring(uri.lastIndexOf('/') + 1);
    if (last === '') {
        // Directory index: /docs/ serves docs/index.html.
        uri += 'index.html';
    } else if (last.indexOf('.') === -1) {
        // An extensionless path: the SPA's page when there is one, else the
        // directory's index (/docs serves docs/index.html). A missing .js,
        // .css or font is never answered with a page.
        uri = CONFIG.spa ? CONFIG.spa : uri + '/index.html';
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
        request.uri = resolve(route, uri);
    } else if (preview) {
        return answer(404, 'Not Found');
    } else {
        // No release published yet: the bucket's files are served in place.
        request.uri = uri;
    }
    return request;
}
