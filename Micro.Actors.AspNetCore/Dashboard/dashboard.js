// The Micro.Actors dashboard's script: the live part of a page refreshed in place, the live feeds
// (Server-Sent Events), and the forms that call the gateway. No framework, nothing from elsewhere.
(() => {
  'use strict';
  const $ = (selector, root = document) => root.querySelector(selector);
  const keep = 100; // lines a feed keeps on the page

  const pretty = text => {
    try { return JSON.stringify(JSON.parse(text), null, 2); } catch { return text; }
  };
  const clock = iso => {
    const t = document.createElement('time');
    const d = iso ? new Date(iso) : new Date();
    t.dateTime = d.toISOString();
    t.textContent = d.toLocaleTimeString();
    return t;
  };
  const prepend = (list, item) => {
    list.prepend(item);
    while (list.children.length > keep) list.lastElementChild.remove();
  };

  // The live part: the server renders it; the page fetches it again and swaps it in when it changed.
  const live = $('#live');
  if (live) {
    let busy = false;
    const refresh = async () => {
      if (busy) return;
      busy = true;
      try {
        const response = await fetch(live.dataset.src, { headers: { 'X-Fragment': '1' }, cache: 'no-store' });
        const html = await response.text();
        if (response.ok || response.status === 404) {
          if (html !== live.innerHTML) live.innerHTML = html;
          delete live.dataset.stale;
        } else live.dataset.stale = 'true';
      } catch { live.dataset.stale = 'true'; } // the dashboard's own node is gone: show it as stale, keep trying
      finally { busy = false; }
    };
    setInterval(refresh, 1500);
  }

  // Membership changes, as they happen.
  const changes = $('#changes');
  if (changes) {
    const feed = new EventSource(changes.dataset.src);
    feed.onmessage = message => {
      const c = JSON.parse(message.data);
      const item = document.createElement('li');
      item.className = c.kind;
      item.append(clock(c.time), `${c.service} ${c.address} ${c.kind === 'updated' ? 'is ' + c.status : c.kind} (version ${c.version})`);
      prepend(changes, item);
    };
  }

  const show = (out, ok, text) => {
    out.className = 'reply ' + (ok ? 'ok' : 'error');
    out.textContent = text;
  };
  const status = response => `${response.status} ${response.statusText || ''}`.trim();

  // A POST to the gateway: a call, a one-way message, a server stream (read as NDJSON as it comes), a publish.
  const post = async (path, body, out, streamed) => {
    const response = await fetch(path, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: streamed ? 'application/x-ndjson' : 'application/json' },
      body,
    });
    if (!streamed || !response.ok || !response.body) {
      show(out, response.ok, `${status(response)}\n${pretty(await response.text())}`);
      return;
    }
    show(out, true, status(response) + '\n');
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffered = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffered += value;
      let end;
      while ((end = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, end).trim();
        buffered = buffered.slice(end + 1);
        if (!line) continue;
        const item = JSON.parse(line);
        if (item && item.error) show(out, false, `${out.textContent}${JSON.stringify(item.error, null, 2)}\n`);
        else out.textContent += line + '\n';
      }
    }
    out.textContent += '(end of stream)';
  };

  // Client and bidirectional streams: a WebSocket, a message per line, then an empty message to end the requests.
  const socket = (path, text, out) => new Promise(resolve => {
    const url = `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}${path}`;
    const ws = new WebSocket(url);
    show(out, true, 'connecting…\n');
    ws.onopen = () => {
      out.textContent = '';
      for (const line of text.split('\n').map(l => l.trim()).filter(l => l)) ws.send(line);
      ws.send('');
    };
    ws.onmessage = message => { out.textContent += message.data + '\n'; };
    ws.onclose = close => {
      if (close.code === 1000) out.textContent += '(end of stream)';
      else show(out, false, `${out.textContent}closed with ${close.code}${close.code >= 4000 ? ` (HTTP ${close.code - 4000})` : ''}: ${close.reason || 'the connection was lost'}`);
      resolve();
    };
  });

  const busy = async (form, work) => {
    const buttons = form.querySelectorAll('button[type="submit"]');
    buttons.forEach(b => { b.disabled = true; });
    try { await work(); }
    finally { buttons.forEach(b => { b.disabled = false; }); }
  };

  // Ctrl+Enter (or Cmd+Enter) in a text area sends its form, as in most consoles.
  document.addEventListener('keydown', e => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey) && e.target instanceof HTMLTextAreaElement && e.target.form) {
      e.preventDefault();
      e.target.form.requestSubmit();
    }
  });

  for (const form of document.querySelectorAll('form.call')) {
    const out = form.nextElementSibling;
    form.addEventListener('submit', e => {
      e.preventDefault();
      const kind = form.dataset.kind;
      const body = form.elements.body.value;
      busy(form, async () => {
        try {
          if (kind === 'client' || kind === 'bidi') await socket(form.dataset.path, body, out);
          else await post(form.dataset.path, body, out, kind === 'server');
        } catch (error) { show(out, false, `the gateway could not be reached: ${error.message}`); }
      });
    });
  }

  const publish = $('#publish');
  if (publish) {
    const out = $('#publish-reply');
    publish.addEventListener('submit', e => {
      e.preventDefault();
      const topic = publish.elements.topic.value.trim();
      const type = publish.elements.type.value.trim();
      const path = publish.dataset.path + encodeURIComponent(topic) + (type ? `?type=${encodeURIComponent(type)}` : '');
      busy(publish, async () => {
        try { await post(path, publish.elements.body.value, out, false); }
        catch (error) { show(out, false, `the gateway could not be reached: ${error.message}`); }
      });
    });
  }

  // A topic's live tail.
  const tail = $('#tail');
  if (tail) {
    const events = $('#events');
    const state = $('#tail-state');
    const stop = $('#tail-stop');
    let feed = null;
    const end = () => {
      if (feed) feed.close();
      feed = null;
      stop.disabled = true;
    };
    const start = topic => {
      end();
      events.replaceChildren();
      const url = new URL(location.href);
      url.searchParams.set('topic', topic);
      history.replaceState(null, '', url);
      if (!$('#publish-topic').value) $('#publish-topic').value = topic;
      feed = new EventSource(tail.dataset.src + encodeURIComponent(topic));
      stop.disabled = false;
      state.textContent = `Connecting to ${topic}…`;
      feed.onopen = () => { state.textContent = `Tailing ${topic}: new events appear at the top.`; };
      feed.onerror = () => { if (feed) state.textContent = `Lost the tail of ${topic}; reconnecting…`; };
      feed.onmessage = message => {
        const ev = JSON.parse(message.data);
        const item = document.createElement('li');
        const body = document.createElement('pre');
        body.textContent = ev.body !== null && ev.body !== undefined ? JSON.stringify(ev.body) : `(${ev.size} bytes; ${ev.note})`;
        item.append(clock(ev.published), `#${ev.number} ${ev.type || 'event'} ${ev.id}`, body);
        prepend(events, item);
      };
    };
    tail.addEventListener('submit', e => {
      e.preventDefault();
      const topic = tail.elements.topic.value.trim();
      if (topic) start(topic);
    });
    stop.addEventListener('click', () => { end(); state.textContent = 'Stopped.'; });
    if (tail.elements.topic.value.trim()) start(tail.elements.topic.value.trim());
  }
})();
