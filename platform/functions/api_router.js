import cf from 'cloudfront';

// Archway API router (CloudFront Function, cloudfront-js-2.0, viewer-request) on the one
// /api/* behavior. /api/<svc>/... is sent to that service's API: its KeyValueStore entry
// (written when the service is deployed) holds {"d": API domain, "p": "/<stage>",
// "k": origin secret}; cf.updateRequestOrigin points this request at it, with the secret
// as x-api-key. An unknown service is answered here with a JSON 404: it never reaches
// the SPA bucket, and the placeholder origin of the behavior is never used.
//   runtime 2.0, import cf, async/await, const:
//     https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/functions-javascript-runtime-20.html
//   cf.kvs().get(key) rejects for a missing key:
//     https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/functions-custom-methods.html
//   cf.updateRequestOrigin (viewer request only; customHeaders replaces the origin's):
//     https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/helper-functions-origin-modification.html
const kvs = cf.kvs();
const SERVICE = /^\/api\/([a-z][a-z0-9-]{0,62})(\/|$)/;

function notFound(message) {
    return {
        statusCode: 404,
        statusDescription: 'Not Found',
        headers: {
            'content-type': { value: 'application/json' },
            'cache-control': { value: 'no-store' }
        },
        body: { encoding: 'text', data: JSON.stringify({ message: message }) }
    };
}

async function handler(event) {
    const request = event.request;
    const match = SERVICE.exec(request.uri);
    if (!match) {
        return notFound('Not Found: no service in this path');
    }
    let raw;
    try {
        raw = await kvs.get(match[1]);
    } catch (e) {
        return notFound('Not Found: no service named ' + match[1]);
    }
    // A corrupt entry throws (CloudFront answers 503): never routed, never the SPA.
    const route = JSON.parse(raw);
    if (!route || typeof route.d !== 'string' || typeof route.p !== 'string' ||
            typeof route.k !== 'string') {
        throw new Error('the route of ' + match[1] + ' is not an Archway route');
    }
    cf.updateRequestOrigin({
        domainName: route.d,
        originPath: route.p,
        customHeaders: { 'x-api-key': route.k },
        customOriginConfig: { port: 443, protocol: 'https', sslProtocols: ['TLSv1.2'] },
        originAccessControlConfig: { enabled: false }
    });
    return request;
}
