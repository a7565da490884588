/* Kundenpuls web widget: one <script> tag on the company's page asks a visitor the survey.
   <script async src=".../widget/kp-<hash>.js" data-key="PUBLIC KEY"
           data-customer="EXTERNAL ID" data-signature="HMAC-SHA256(secret, external id), hex"></script>
   No third-party code, no cookie, no inline style or script (styles are a constructed sheet in a shadow root), so
   a strict Content-Security-Policy of the host needs only script-src and connect-src for Kundenpuls.
   An anonymous visitor who answered or closed it is remembered in localStorage; page views are counted in
   sessionStorage only when the widget waits for more than one. */
(function () {
  "use strict";
  var me = document.currentScript;
  if (!me || !window.fetch || !Element.prototype.attachShadow) return;
  var data = me.dataset;
  var api = new URL(me.src).origin + "/api/widget/v1/" + encodeURIComponent(data.key || "");
  var who = data.customer ? { customer: data.customer, signature: data.signature || "" } : {};
  var lang = (data.lang || document.documentElement.lang || navigator.language || "de").slice(0, 2);
  var mark = "kundenpuls:" + data.key;

  function get(store, name) {
    try { return window[store].getItem(name); } catch (e) { return null; }
  }
  function put(store, name, value) {
    try { window[store].setItem(name, value); } catch (e) { /* storage off: ask again next time */ }
  }
  function post(path, body) {
    var all = { lang: lang };
    for (var k in who) all[k] = who[k];
    for (k in body) all[k] = body[k];
    return fetch(api + path, {
      method: "POST", body: JSON.stringify(all), credentials: "omit", keepalive: true,
      headers: { "Content-Type": "text/plain" }
    }).then(function (r) {
      return r.status === 204 ? {} : r.json().then(function (j) { return r.ok ? j : Promise.reject(j); });
    });
  }
  function el(tag, attrs, kids) {
    var node = document.createElement(tag);
    for (var name in attrs || {}) {
      if (attrs[name] === true) node.setAttribute(name, "");
      else if (attrs[name] != null && attrs[name] !== false) node.setAttribute(name, attrs[name]);
    }
    (kids || []).forEach(function (kid) {
      if (kid != null) node.appendChild(typeof kid === "string" ? document.createTextNode(kid) : kid);
    });
    return node;
  }

  var CSS = ":host{all:initial}" +
    ".box{position:fixed;z-index:2147483000;right:8px;bottom:8px;box-sizing:border-box;" +
    "width:min(24rem,calc(100vw - 16px));max-height:calc(100vh - 16px);overflow:auto;padding:16px;" +
    "background:#fff;color:#1a1a1a;border:1px solid #6b6b6b;border-radius:8px;" +
    "box-shadow:0 4px 18px rgba(0,0,0,.25);font:16px/1.4 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif}" +
    "fieldset{border:0;margin:0;padding:0;min-width:0}" +
    "legend{font-weight:600;font-size:1.05rem;padding:0 2.5rem 8px 0}" +
    ".hint,.note{margin:0 0 8px;font-size:.875rem;color:#4a4a4a}" +
    ".scores{display:grid;grid-template-columns:repeat(11,1fr);gap:3px}" +
    ".scores.labelled{grid-template-columns:1fr}" +
    "label.score{position:relative;display:flex;align-items:center;justify-content:center;gap:6px;" +
    "min-height:36px;border:1px solid #6b6b6b;border-radius:4px;cursor:pointer;font-size:.95rem}" +
    ".labelled label.score{justify-content:flex-start;padding:0 8px}" +
    "label.score input{position:absolute;opacity:0;width:100%;height:100%;margin:0;cursor:pointer}" +
    "label.on{background:#0b4f96;border-color:#0b4f96;color:#fff}" +
    "label.score:focus-within,button:focus-visible,textarea:focus-visible" +
    "{outline:3px solid #0b4f96;outline-offset:2px}" +
    "textarea{box-sizing:border-box;width:100%;min-height:4.5rem;margin:4px 0 8px;padding:6px;" +
    "font:inherit;border:1px solid #6b6b6b;border-radius:4px}" +
    ".more label{display:block;margin-top:12px;font-size:.95rem}" +
    "button{font:inherit;cursor:pointer;border-radius:4px}" +
    ".send{background:#0b4f96;color:#fff;border:0;padding:8px 16px}" +
    ".close{position:absolute;top:8px;right:8px;width:36px;height:36px;border:0;background:none;" +
    "font-size:1.5rem;line-height:1;color:#1a1a1a}" +
    ".error{color:#a4000f;font-size:.9rem;margin:8px 0 0}" +
    ".thanks{margin:0;padding-right:2.5rem;font-weight:600}[hidden]{display:none}";

  function show(survey, token) {
    var t = survey.texts, host = el("div", { "data-kundenpuls": "" }), root = host.attachShadow({ mode: "open" });
    if (root.adoptedStyleSheets !== undefined) {
      var sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
      root.adoptedStyleSheets = [sheet];
    }
    var labelled = survey.scale[0].label != null, chosen = null;
    var scores = el("div", { "class": "scores" + (labelled ? " labelled" : "") }, survey.scale.map(function (s) {
      var input = el("input", { type: "radio", name: "score", value: s.value });
      input.addEventListener("change", function () {
        chosen = s.value;
        more.hidden = false;
        error.hidden = true;
        scores.querySelectorAll("label").forEach(function (l) { l.classList.toggle("on", l.contains(input)); });
      });
      return el("label", { "class": "score" }, [input, labelled ? el("b", {}, [String(s.value)]) : null,
        labelled ? s.label : String(s.value)]);
    }));
    var comment = el("textarea", { id: "kp-comment", name: "comment", maxlength: "5000" });
    var more = el("div", { "class": "more", hidden: true }, [
      el("label", { "for": "kp-comment" }, [t.comment + " (" + t.optional + ")"]), comment,
      el("button", { type: "submit", "class": "send" }, [t.send])
    ]);
    var error = el("p", { "class": "error", role: "alert", hidden: true });
    var form = el("form", {}, [
      el("fieldset", t.hint ? { "aria-describedby": "kp-hint" } : {}, [
        el("legend", { id: "kp-question" }, [t.question]),
        t.hint ? el("p", { id: "kp-hint", "class": "hint" }, [t.hint]) : null, scores
      ]), more, error, survey.anonymous ? el("p", { "class": "note" }, [t.anonymous]) : null
    ]);
    var close = el("button", { type: "button", "class": "close", "aria-label": t.close }, ["\u00d7"]);
    var box = el("section", { "class": "box", role: "dialog", "aria-labelledby": "kp-question", lang: survey.lang },
      [close, form]);
    function done() {
      if (survey.anonymous) put("localStorage", mark, String(Date.now() + survey.once_per_days * 864e5));
    }
    function end() {
      host.remove();
      if (!answered) { done(); if (token) post("/dismiss", { token: token }).catch(function () {}); }
    }
    var answered = false;
    close.addEventListener("click", end);
    box.addEventListener("keydown", function (e) { if (e.key === "Escape") end(); });
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      if (chosen === null) { error.textContent = t.choose; error.hidden = false; return; }
      var body = { score: chosen, comment: comment.value.trim() || null };
      if (token) body.token = token;
      post("/answer", body).then(function (r) {
        answered = true;
        done();
        box.replaceChild(el("p", { "class": "thanks", role: "status" }, [r.thanks]), form);
        close.focus();
      }, function () { error.textContent = t.failed; error.hidden = false; });
    });
    root.appendChild(box);
    document.body.appendChild(host);
  }

  function start() {
    if (!who.customer && Number(get("localStorage", mark)) > Date.now()) return;
    post("/check", { page: location.pathname + location.search }).then(function (survey) {
      if (!survey.show) return;
      var rules = survey.rules;
      if (rules.after_page_views > 1) {
        var views = Number(get("sessionStorage", mark + ":views") || 0) + 1;
        put("sessionStorage", mark + ":views", String(views));
        if (views < rules.after_page_views) return;
      }
      setTimeout(function () {
        if (!who.customer) return show(survey, null);
        post("/shown", {}).then(function (r) { show(survey, r.token); }, function () {});
      }, rules.after_seconds * 1000);
    }, function () { /* not shown: the host page goes on undisturbed */ });
  }

  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start);
})();
