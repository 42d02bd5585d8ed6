// Tollgate console: live updates. Every page works without this script; with it, a page
// whose region is marked `data-live` follows the event stream named by `data-stream` and,
// when events arrive, reads the page again from the server (which renders and escapes
// everything) and either replaces the region ("replace") or appends the items it does not
// show yet ("append"), so that open details stay open. No HTML is built here.
(function () {
  'use strict';

  var region = document.querySelector('[data-live][data-stream]');
  if (!region || !window.EventSource || !window.fetch || !window.DOMParser) return;
  var status = document.getElementById('live');
  var mode = region.getAttribute('data-live');
  var timer = null;
  var busy = false;
  var again = false;

  function show(text, on) {
    if (!status) return;
    status.hidden = false;
    status.textContent = text;
    status.classList.toggle('off', !on);
  }

  function merge(fresh) {
    if (mode === 'append') {
      var items = fresh.querySelectorAll('[data-item]');
      for (var i = 0; i < items.length; i++) {
        if (!document.getElementById(items[i].id)) region.appendChild(document.adoptNode(items[i]));
      }
    } else {
      region.replaceChildren.apply(region, Array.prototype.map.call(fresh.childNodes, function (node) {
        return document.adoptNode(node);
      }));
    }
  }

  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    fetch(window.location.href, { headers: { Accept: 'text/html' }, credentials: 'same-origin', cache: 'no-store' })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (html === null) return;
        var fresh = new DOMParser().parseFromString(html, 'text/html').getElementById(region.id);
        if (fresh) merge(fresh);
      })
      .catch(function () { /* the next event tries again */ })
      .then(function () {
        busy = false;
        if (again) { again = false; refresh(); }
      });
  }

  var source = new EventSource(region.getAttribute('data-stream'));
  source.addEventListener('open', function () { show('Live', true); });
  source.addEventListener('error', function () { show('Reconnecting…', false); });
  source.addEventListener('tollgate', function () {
    // A flow's steps arrive together: one refresh for a burst.
    clearTimeout(timer);
    timer = setTimeout(refresh, 200);
  });
})();
