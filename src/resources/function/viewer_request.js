// cdnctl's viewer-request function (cloudfront-js-2.0), on the default cache
// behavior of a stack with releases (CDN_RELEASES). See function.rs for the
// layout it serves; cdnctl replaces the CONFIG line with the stack's values.
import cf from 'cloudfront';

const CONFIG = {"root":"_cdnctl","spa":null};

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
    let release = null;
    try {
        release = await kvs.get('live');
    } catch (e) {
        // No release published yet: the bucket's files are served in place.
    }
    if (release) {
        const space = isHashed(file) ? '/assets' : '/releases/' + release;
        uri = '/' + CONFIG.root + space + uri;
    }
    request.uri = uri;
    return request;
}
