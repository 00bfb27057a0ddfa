// The split-and-transfer form: the remainder as amounts are typed, and the policy minimum
// refused before submitting. The server reads the form again by the same rules.
"use strict";
(function () {
  const form = document.getElementById("transfer-form");
  if (!form) { return; }
  const noteFen = BigInt(form.dataset.noteFen);
  const minFen = BigInt(form.dataset.minFen);
  const currency = form.dataset.currency;
  const output = document.getElementById("remainder");
  const restError = document.getElementById("remainder-error");
  const AMOUNT = /^(0|[1-9]\d{0,2}(,\d{3})*|[1-9]\d*)(\.\d{1,2})?$/;

  function fenOf(text) {
    const clean = text.trim();
    if (!AMOUNT.test(clean)) { return null; }
    const [whole, decimals = ""] = clean.replace(/,/g, "").split(".");
    return BigInt(whole) * 100n + BigInt(decimals.padEnd(2, "0"));
  }

  function yuan(fen) {
    const negative = fen < 0n;
    const abs = negative ? -fen : fen;
    const whole = (abs / 100n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    const cents = (abs % 100n).toString().padStart(2, "0");
    return (negative ? "-" : "") + whole + "." + cents + " " + currency;
  }

  function rows() {
    return Array.from(form.querySelectorAll(".row-pair")).map((pair) => ({
      to: pair.querySelector("select"), amount: pair.querySelector("input.money"),
    }));
  }

  function say(input, message) {
    const where = document.getElementById(input.id + "-error");
    where.textContent = message;
    if (message) { input.setAttribute("aria-invalid", "true"); }
    else { input.removeAttribute("aria-invalid"); }
  }

  // Check every row and the remainder; show what is wrong beside each field; return whether
  // the form may be sent. `strict` also flags what is missing (on submit, not while typing).
  function check(strict) {
    let paid = 0n, pieces = 0, ok = true, any = false;
    for (const row of rows()) {
      const text = row.amount.value;
      let amountMessage = "", toMessage = "";
      if (!text.trim() && !row.to.value) { say(row.amount, ""); say(row.to, ""); continue; }
      any = true;
      const fen = text.trim() ? fenOf(text) : null;
      if (text.trim() && fen === null) { amountMessage = form.dataset.msgBad; }
      else if (fen !== null && fen < minFen) { amountMessage = form.dataset.msgBelow; }
      else if (fen === null && strict) { amountMessage = form.dataset.msgBad; }
      if (!row.to.value && strict) { toMessage = form.dataset.msgRecipient; }
      if (fen !== null) { paid += fen; pieces += 1; }
      say(row.amount, amountMessage);
      say(row.to, toMessage);
      ok = ok && !amountMessage && !toMessage;
    }
    const rest = noteFen - paid;
    output.textContent = yuan(rest);
    let restMessage = "";
    if (rest < 0n) { restMessage = form.dataset.msgOver; }
    else if (rest > 0n && rest < minFen && pieces > 0) { restMessage = form.dataset.msgRest; }
    else if (!any && strict) { restMessage = form.dataset.msgNone; }
    restError.textContent = restMessage;
    return ok && !restMessage;
  }

  form.addEventListener("input", () => check(false));
  form.addEventListener("change", () => check(false));
  form.addEventListener("submit", (event) => {
    if (!check(true)) {
      event.preventDefault();
      const wrong = form.querySelector("[aria-invalid='true']");
      (wrong || restError).focus();
    }
  });
  // On load only the remainder: messages the server wrote beside the fields stay.
  const saved = Array.from(form.querySelectorAll(".field-error")).map((e) => e.textContent);
  check(false);
  form.querySelectorAll(".field-error").forEach((e, i) => { if (saved[i]) { e.textContent = saved[i]; } });
})();
