// Archway Shop: a small single-page app with no build step.
// Routes: "/" (home) and "/products/<id>" (product page, deep-linkable: the edge's
// SPA fallback function serves index.html for paths without a file extension).

const $ = (selector) => document.querySelector(selector);
const DEBOUNCE_MS = 150;

class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

async function api(path, options = {}) {
  const response = await fetch(path, {
    ...options,
    headers: { "content-type": "application/json", accept: "application/json",
               ...(options.headers || {}) },
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new ApiError(body.message || `request failed (${response.status})`, response.status);
  }
  return body;
}

function showError(message) {
  const error = $("#error");
  error.textContent = message;
  error.hidden = !message;
}

// --------------------------------------------------------------------- sign-in
// Authorization code flow with PKCE (RFC 7636) against the user pool's managed login
// pages; on `archway local`, the local OpenID Connect issuer. Where they are comes from
// /config.json, written by the site deploy. The ID token lives in this tab's
// sessionStorage only, never in a URL: the ?code= of the redirect back is removed from
// the address bar and history before it is exchanged.

const SESSION_KEY = "archway.auth.session";
const PENDING_KEY = "archway.auth.pending";
const auth = { config: null, session: null };

function base64url(bytes) {
  return btoa(String.fromCharCode(...new Uint8Array(bytes)))
    .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomString(size) {
  return base64url(crypto.getRandomValues(new Uint8Array(size)));
}

async function challengeOf(verifier) {
  return base64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
}

// The ID token's claims, only to show who is signed in: the API checks the token itself.
function claimsOf(token) {
  const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
  const bytes = Uint8Array.from(atob(payload), (c) => c.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes));
}

function redirectUri() {
  return `${location.origin}/`;
}

function loadSession() {
  try {
    const session = JSON.parse(sessionStorage.getItem(SESSION_KEY) || "null");
    if (session && session.expiresAt > Date.now() + 30000) {
      const claims = claimsOf(session.idToken);
      return { ...session, name: claims["cognito:username"] || claims.email || "you" };
    }
  } catch {
    // an unreadable session is no session
  }
  sessionStorage.removeItem(SESSION_KEY);
  return null;
}

async function signIn() {
  const verifier = randomString(48);
  const state = randomString(16);
  sessionStorage.setItem(PENDING_KEY, JSON.stringify({ state, verifier, back: location.pathname }));
  const params = new URLSearchParams({
    response_type: "code", client_id: auth.config.clientId, redirect_uri: redirectUri(),
    scope: auth.config.scopes, state, code_challenge: await challengeOf(verifier),
    code_challenge_method: "S256",
  });
  location.assign(`${auth.config.domain}/oauth2/authorize?${params}`);
}

function signOut() {
  sessionStorage.removeItem(SESSION_KEY);
  auth.session = null;
  const params = new URLSearchParams({ client_id: auth.config.clientId, logout_uri: redirectUri() });
  location.assign(`${auth.config.domain}/logout?${params}`);
}

// Back from the sign-in page with ?code=&state= (or ?error=): exchange the code once.
async function completeSignIn() {
  const params = new URLSearchParams(location.search);
  if (!params.has("code") && !params.has("error")) return;
  const pending = JSON.parse(sessionStorage.getItem(PENDING_KEY) || "null");
  sessionStorage.removeItem(PENDING_KEY);
  history.replaceState({}, "", pending?.back || "/");
  if (params.has("error")) throw new Error(`Sign-in failed: ${params.get("error")}`);
  if (!pending || params.get("state") !== pending.state) {
    throw new Error("Sign-in failed: the answer does not match the request");
  }
  const response = await fetch(`${auth.config.domain}/oauth2/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code", client_id: auth.config.clientId,
      code: params.get("code"), redirect_uri: redirectUri(), code_verifier: pending.verifier,
    }),
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(`Sign-in failed: ${body.error || response.status}`);
  sessionStorage.setItem(SESSION_KEY, JSON.stringify({
    idToken: body.id_token, expiresAt: Date.now() + body.expires_in * 1000 }));
}

function renderAccount() {
  const session = auth.session;
  $("#sign-in").hidden = !auth.config || Boolean(session);
  $("#sign-out").hidden = !session;
  $("#user-name").hidden = !session;
  $("#user-name").textContent = session ? `Signed in as ${session.name}` : "";
  $("#review-form").hidden = !session;
  $("#review-sign-in").hidden = Boolean(session);
  $("#review-sign-in").textContent = auth.config ? "Sign in to write a review."
    : "Reviews need sign-in, which this site has not been set up for.";
  $(".review-author").textContent = session ? session.name : "";
}

async function loadConfig() {
  try {
    const response = await fetch("/config.json", { headers: { accept: "application/json" } });
    return response.ok ? (await response.json()).auth || null : null;
  } catch {
    return null;
  }
}

// ------------------------------------------------------------------ search box

const search = { timer: null, seq: 0, active: -1, results: [] };

function renderSuggestions() {
  const list = $("#suggestions");
  list.replaceChildren(...search.results.map((product, index) => {
    const item = document.createElement("li");
    item.setAttribute("role", "option");
    item.dataset.id = product.id;
    item.setAttribute("aria-selected", String(index === search.active));
    const name = document.createElement("span");
    name.textContent = product.name;
    const price = document.createElement("span");
    price.textContent = `€${product.price.toFixed(2)}`;
    item.append(name, price);
    item.addEventListener("mousedown", (event) => {
      event.preventDefault();
      choose(product.id);
    });
    return item;
  }));
  list.hidden = search.results.length === 0;
}

async function suggest(query) {
  const seq = ++search.seq;
  if (!query.trim()) {
    search.results = [];
    renderSuggestions();
    return;
  }
  try {
    const body = await api(`/api/catalog/search?q=${encodeURIComponent(query)}`);
    if (seq !== search.seq) return; // a newer keystroke won
    search.results = body.results;
    search.active = -1;
    renderSuggestions();
    showError("");
  } catch (error) {
    showError(`Search failed: ${error.message}`);
  }
}

function choose(id) {
  search.results = [];
  renderSuggestions();
  $("#search").value = "";
  navigate(`/products/${encodeURIComponent(id)}`);
}

function onKey(event) {
  const count = search.results.length;
  if (event.key === "ArrowDown" && count) {
    search.active = (search.active + 1) % count;
  } else if (event.key === "ArrowUp" && count) {
    search.active = (search.active - 1 + count) % count;
  } else if (event.key === "Enter" && count) {
    choose(search.results[Math.max(search.active, 0)].id);
    return;
  } else if (event.key === "Escape") {
    search.results = [];
  } else {
    return;
  }
  event.preventDefault();
  renderSuggestions();
}

// ---------------------------------------------------------------- product page

function renderReviews(reviews) {
  $("#no-reviews").hidden = reviews.length > 0;
  $("#reviews").replaceChildren(...reviews.map((review) => {
    const item = document.createElement("li");
    const stars = document.createElement("span");
    stars.className = "stars";
    stars.textContent = "★".repeat(review.rating) + "☆".repeat(5 - review.rating);
    const author = document.createElement("strong");
    author.textContent = ` ${review.author}`;
    const text = document.createElement("p");
    text.textContent = review.text;
    item.append(stars, author, text);
    return item;
  }));
}

async function showProduct(id) {
  $("#home").hidden = true;
  const page = $("#product");
  page.hidden = true;
  try {
    const [product, reviews] = await Promise.all([
      api(`/api/catalog/products/${encodeURIComponent(id)}`),
      api(`/api/reviews/products/${encodeURIComponent(id)}/reviews`),
    ]);
    page.dataset.id = id;
    $("#product h1").textContent = product.name;
    $("#product .price").textContent = `€${product.price.toFixed(2)}`;
    $("#product .category").textContent = product.category;
    $("#product .description").textContent = product.description;
    renderReviews(reviews.reviews);
    page.hidden = false;
    document.title = `${product.name} · Archway Shop`;
    showError("");
    const views = await api(`/api/reviews/products/${encodeURIComponent(id)}/views`,
                            { method: "POST" });
    $("#product .views").textContent = `${views.views} view${views.views === 1 ? "" : "s"}`;
  } catch (error) {
    showError(error.message);
  }
}

async function postReview(event) {
  event.preventDefault();
  const form = event.target;
  const id = $("#product").dataset.id;
  const message = form.querySelector(".form-error");
  auth.session = loadSession();
  if (!auth.session) {
    renderAccount();
    return;
  }
  const body = { rating: Number(form.rating.value), text: form.text.value };
  try {
    await api(`/api/reviews/products/${encodeURIComponent(id)}/reviews`, {
      method: "POST", body: JSON.stringify(body),
      headers: { authorization: `Bearer ${auth.session.idToken}` },
    });
    form.reset();
    message.textContent = "";
    const reviews = await api(`/api/reviews/products/${encodeURIComponent(id)}/reviews`);
    renderReviews(reviews.reviews);
  } catch (error) {
    if (error.status === 401) {
      sessionStorage.removeItem(SESSION_KEY);
      auth.session = null;
      renderAccount();
      $("#review-sign-in").textContent = "Your sign-in has expired: sign in again.";
    } else {
      message.textContent = error.message;
    }
  }
}

// ---------------------------------------------------------------------- router

function route() {
  const match = location.pathname.match(/^\/products\/([^/]+)$/);
  if (match) {
    showProduct(decodeURIComponent(match[1]));
  } else {
    $("#product").hidden = true;
    $("#home").hidden = false;
    document.title = "Archway Shop";
  }
}

function navigate(path) {
  history.pushState({}, "", path);
  route();
}

document.addEventListener("click", (event) => {
  const link = event.target.closest("a[data-link]");
  if (link) {
    event.preventDefault();
    navigate(link.getAttribute("href"));
  }
});
window.addEventListener("popstate", route);
$("#search").addEventListener("input", (event) => {
  clearTimeout(search.timer);
  search.timer = setTimeout(() => suggest(event.target.value), DEBOUNCE_MS);
});
$("#search").addEventListener("keydown", onKey);
$("#search").addEventListener("blur", () => setTimeout(() => {
  search.results = [];
  renderSuggestions();
}, 100));
$("#review-form").addEventListener("submit", postReview);
$("#sign-in").addEventListener("click", () => signIn());
$("#sign-out").addEventListener("click", () => signOut());

async function start() {
  auth.config = await loadConfig();
  if (auth.config) {
    try {
      await completeSignIn();
    } catch (error) {
      showError(error.message);
    }
  }
  auth.session = loadSession();
  renderAccount();
  route();
}

start();
