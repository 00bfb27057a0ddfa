// pricing.js: the terms form's live pricing, as the officer types (no inline script: CSP).
//
// The same rule as ledger/money.py: days from the funding date (inclusive) to maturity
// (exclusive); interest = face x rate % x days / 360, rounded half-up to the fen, computed in
// integers (BigInt) from integer fen; net proceeds = face - interest - the fees the seller
// bears (all, none, or half rounded up).  The server prices the submitted form again; these
// figures only show what it will say.  Without JavaScript the form still submits.

const RATE = /^(0|[1-9][0-9]{0,3})(\.[0-9]{1,4})?$/;
const YUAN = /^(0|[1-9][0-9]{0,2}(,[0-9]{3})*|[1-9][0-9]*)(\.[0-9]{1,2})?$/;
const DATE = /^[0-9]{4}-[0-9]{2}-[0-9]{2}$/;

export function parseRate(text) {
  const value = text.trim().replace(/%$/, "").trim();
  if (!RATE.test(value)) return null;
  const [whole, decimals = ""] = value.split(".");
  return { units: BigInt(whole + decimals), scale: 10n ** BigInt(decimals.length) };
}

export function parseFen(text) {
  const value = text.trim() || "0";
  if (!YUAN.test(value)) return null;
  const [whole, decimals = ""] = value.replaceAll(",", "").split(".");
  return BigInt(whole) * 100n + BigInt(decimals.padEnd(2, "0"));
}

export function daysBetween(funding, maturity) {
  if (!DATE.test(funding) || !DATE.test(maturity)) return null;
  const start = Date.parse(`${funding}T00:00:00Z`);
  const end = Date.parse(`${maturity}T00:00:00Z`);
  if (Number.isNaN(start) || Number.isNaN(end)) return null;
  if (new Date(start).toISOString().slice(0, 10) !== funding) return null; // 2026-02-30
  return Math.round((end - start) / 86400000);
}

export function price({ face, rate, funding, maturity, fees, payer }) {
  const r = parseRate(rate);
  const f = parseFen(fees);
  const days = daysBetween(funding, maturity);
  if (r === null) return { error: "rate" };
  if (f === null) return { error: "fees" };
  if (days === null) return { error: "date" };
  if (days <= 0) return { error: "maturity" };
  const numerator = BigInt(face) * r.units * BigInt(days);
  const denominator = 36000n * r.scale;
  const interest = (2n * numerator + denominator) / (2n * denominator);
  const sellerFees = payer === "buyer" ? 0n : payer === "split" ? (f + 1n) / 2n : f;
  return { days, interest, fees: f, sellerFees, net: BigInt(face) - interest - sellerFees };
}

export function formatFen(fen) {
  const sign = fen < 0n ? "-" : "";
  const abs = fen < 0n ? -fen : fen;
  const whole = (abs / 100n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return `${sign}${whole}.${(abs % 100n).toString().padStart(2, "0")}`;
}

function wire(form) {
  const $ = (name) => form.querySelector(`[name="${name}"]`);
  const out = (name) => document.getElementById(`price-${name}`);
  const currency = form.dataset.currency || "CNY";
  const update = () => {
    const priced = price({
      face: form.dataset.face, rate: $("rate").value, funding: $("funding_date").value,
      maturity: form.dataset.maturity, fees: $("fees").value, payer: $("fee_payer").value,
    });
    const box = document.getElementById("price-box");
    if (priced.error) {
      box.dataset.state = "error";
      out("problem").textContent = form.dataset[`problem${priced.error[0].toUpperCase()}${priced.error.slice(1)}`] || "";
      for (const name of ["days", "interest", "fees", "net"]) out(name).textContent = "–";
      return;
    }
    box.dataset.state = priced.net > 0n ? "ok" : "error";
    out("problem").textContent = priced.net > 0n ? "" : form.dataset.problemNet || "";
    out("days").textContent = String(priced.days);
    out("interest").textContent = `${formatFen(priced.interest)} ${currency}`;
    out("fees").textContent = `${formatFen(priced.sellerFees)} ${currency}`;
    out("net").textContent = `${formatFen(priced.net)} ${currency}`;
  };
  form.addEventListener("input", update);
  form.addEventListener("change", update);
  update();
}

const form = typeof document !== "undefined" && document.getElementById("terms-form");
if (form) wire(form);
