// live.js: a page marked <main data-live> refreshes its live region when a block commits.
//
// Every few seconds it asks the console's /live (the node's heights, read through the SDK);
// when the height grows it fetches this same page again and swaps in its #live-region (or the
// whole <main> when the page has none), then says so in a polite status line.  It waits while
// the person is typing in a field of that region, and stops polling when the tab is hidden.
// Without JavaScript the page is simply the page as it was served.

const main = document.querySelector("main[data-live]");
const PERIOD_MS = Number((main && main.dataset.livePeriod) || 2000);
let seen = null;
let busy = false;

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
  document.body.dataset.liveHeight = String(height);
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
    const answer = await fetch("/live", { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!answer.ok) return;
    const { height } = await answer.json();
    if (seen === null) {
      seen = height;
      document.body.dataset.liveHeight = String(height);
    } else if (height > seen && (await refresh(height))) {
      seen = height;
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
