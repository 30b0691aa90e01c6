// exsweep test fixture: client-side script with eval and the word "request", as OWA bundles have.
function parseResponse(xhr) {
    var text = xhr.responseText;
    // Older browsers without JSON.parse:
    return window.JSON ? JSON.parse(text) : eval("(" + text + ")");
}
function sendRequest(url, cb) {
    var r = new XMLHttpRequest();
    r.open("GET", url, true);
    r.onreadystatechange = function () { if (r.readyState == 4) cb(parseResponse(r)); };
    r.send(null);
}
