// live.js: a page marked <main data-live> refreshes its live region when a block commits.
//
// Every few seconds it asks the console's /live (the node's heights, read through the SDK);
// when the height grows it fetches this same page again and swaps in its #live-region (or the
// whole <main> when the page has none), then says so in a polite status line.  It waits while
// the person is typing in a field of that region, and stops polling when the tab is hidden.
// Without JavaScript the page is simply the page as it was served.
//
// A page may watch something else: data-live-source names the JSON to poll and
// data-live-field its field (a number refreshes when it grows, anything else when it
// changes), data-live-seen the value the page was served with (the audit page: its job's
// state, so an audit that ends before the first poll still refreshes the page).

const main = document.querySelector("main[data-live]");
const PERIOD_MS = Number((main && main.dataset.livePeriod) || 2000);
const SOURCE = (main && main.dataset.liveSource) || "/live";
const FIELD = (main && main.dataset.liveField) || "height";
let seen = main && main.dataset.liveSeen !== undefined ? main.dataset.liveSeen : null;
let busy = false;

function mark(value) {
  // data-live-height on <body> (data-live-value for another field): what the page shows now
  document.body.dataset[FIELD === "height" ? "liveHeight" : "liveValue"] = String(value);
}

function changed(value) {
  return typeof value === "number" && typeof seen === "number" ? value > seen : value !== seen;
}

function region(doc) {
  return doc.getElementById("live-region") || doc.querySelector("main");
}

function typing(place) {
  const active = document.activeElement;
  return active && place.contains(active) && /^(INPUT|SELECT|TEXTAREA)$/.test(active.tagName);
}

function announce(height) {
  let note = document.getElementById("live-note");
  if (!note) {
    note = document.createElement("p");
    note.id = "live-note";
    note.className = "live-note";
    note.setAttribute("role", "status");
    main.prepend(note);
  }
  note.textContent = (main.dataset.liveSaid || "Updated at block {height}").replace("{height}", String(height));
  mark(height);
}

async function refresh(height) {
  const place = region(document);
  if (typing(place)) return false;
  const answer = await fetch(location.href, { credentials: "same-origin", headers: { Accept: "text/html" } });
  if (!answer.ok) return false;
  const fresh = region(new DOMParser().parseFromString(await answer.text(), "text/html"));
  if (!fresh) return false;
  if (place.tagName === "MAIN") {
    const note = document.getElementById("live-note");
    place.replaceChildren(...fresh.childNodes);
    if (note) place.prepend(note);
  } else {
    place.replaceChildren(...fresh.childNodes);
  }
  announce(height);
  return true;
}

async function tick() {
  if (busy || document.hidden) return;
  busy = true;
  try {
    const answer = await fetch(SOURCE, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!answer.ok) return;
    const value = (await answer.json())[FIELD];
    if (seen === null) {
      seen = value;
      mark(value);
    } else if (changed(value) && (await refresh(value))) {
      seen = value;
    }
  } catch {
    // the console or its node is away for a moment: try again on the next tick
  } finally {
    busy = false;
  }
}

if (main) {
  tick();
  setInterval(tick, PERIOD_MS);
}
