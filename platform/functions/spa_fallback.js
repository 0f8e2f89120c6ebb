// Archway SPA fallback (CloudFront Function, cloudfront-js-2.0, viewer-request).
// Attached to the S3 (default) behavior only: /api/* never reaches it, so an API 404
// stays the API's 404. A path whose last segment has no file extension is a route of
// the single-page app and is answered with /index.html; "/" is left to the
// distribution's default root object.
function handler(event) {
    var request = event.request;
    var uri = request.uri;
    if (uri === "/" || uri === "") {
        return request;
    }
    var last = uri.substring(uri.lastIndexOf("/") + 1);
    if (last.indexOf(".") === -1) {
        request.uri = "/index.html";
    }
    return request;
}
