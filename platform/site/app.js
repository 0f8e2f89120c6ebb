// Archway Shop: a small single-page app with no build step.
// Routes: "/" (home) and "/products/<id>" (product page, deep-linkable: the edge's
// SPA fallback function serves index.html for paths without a file extension).

const $ = (selector) => document.querySelector(selector);
const DEBOUNCE_MS = 150;

async function api(path, options = {}) {
  const response = await fetch(path, {
    headers: { "content-type": "application/json", accept: "application/json" },
    ...options,
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new Error(body.message || `request failed (${response.status})`);
  }
  return body;
}

function showError(message) {
  const error = $("#error");
  error.textContent = message;
  error.hidden = !message;
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
  const body = {
    author: form.author.value,
    rating: Number(form.rating.value),
    text: form.text.value,
  };
  try {
    await api(`/api/reviews/products/${encodeURIComponent(id)}/reviews`,
              { method: "POST", body: JSON.stringify(body) });
    form.reset();
    message.textContent = "";
    const reviews = await api(`/api/reviews/products/${encodeURIComponent(id)}/reviews`);
    renderReviews(reviews.reviews);
  } catch (error) {
    message.textContent = error.message;
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
route();
