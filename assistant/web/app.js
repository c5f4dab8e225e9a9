// Chat page: streams answers from /api/chat, shows each cited quote inside its document's text
// (and, for a PDF, on its page, drawn by pdf-page.js), keeps conversations in this browser, limits
// questions to ticked documents or tags, and lists, tags and uploads sources. Server and stored
// text is only ever inserted as text, never as HTML.
"use strict";

(() => {
  const KEY_STORAGE = "cited-assistant.api-key";
  const CONVERSATIONS_STORAGE = "cited-assistant.conversations";
  const MAX_CONVERSATIONS = 50;
  const MAX_HISTORY_TURNS = 40; // the server takes at most 100 messages in one request
  const $ = (id) => document.getElementById(id);
  const state = {
    conversation: null, // the conversation on the page; stored once it has a turn
    documents: [], // from GET /api/documents
    documentsLoaded: false,
    scope: { documents: new Set(), tags: new Set() },
    busy: false,
    trigger: null, // the button that opened the passage panel
    passageRequest: null, // AbortController of the passage being fetched
    pageTicket: 0, // bumped whenever the page shown in the passage panel changes
    pdf: null, // the PDF last shown: {key, ready: Promise of {url, doc}}
    pdfModule: null, // Promise of pdf-page.js, imported when first needed
    pageLink: null, // {url, page}: what "Open the PDF at page N" opens
  };

  // -- talking to the server ---------------------------------------------------------------
  function storedKey() {
    try {
      return localStorage.getItem(KEY_STORAGE) || "";
    } catch {
      return "";
    }
  }

  async function call(path, options = {}) {
    const headers = Object.assign({}, options.headers);
    const key = storedKey();
    if (key) headers["X-API-Key"] = key;
    const response = await fetch(path, Object.assign({}, options, { headers }));
    if (response.status === 401) showKeyForm();
    if (!response.ok) throw new Error(await errorMessage(response));
    return response;
  }

  async function errorMessage(response) {
    try {
      const body = await response.json();
      if (body && body.error && body.error.message) return body.error.message;
    } catch {
      // not JSON: fall through to the status line
    }
    return `The server answered ${response.status} ${response.statusText}.`;
  }

  async function* serverEvents(response) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true }).replace(/\r\n/g, "\n");
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        let event = "message";
        const data = [];
        for (const line of block.split("\n")) {
          if (line.startsWith("event:")) event = line.slice(6).trim();
          else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
        }
        if (data.length) yield { event, data: JSON.parse(data.join("\n")) };
      }
    }
  }

  function documentPath(docId) {
    return `api/documents/${docId.split("/").map(encodeURIComponent).join("/")}`;
  }

  // -- small helpers -----------------------------------------------------------------------
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (name === "class") node.className = value;
      else if (name === "text") node.textContent = value;
      else node.setAttribute(name, value);
    }
    for (const child of children) node.append(child);
    return node;
  }

  const isObject = (value) => typeof value === "object" && value !== null && !Array.isArray(value);
  const asText = (value) => (typeof value === "string" ? value : "");
  const strings = (value) => (Array.isArray(value) ? value.filter((v) => typeof v === "string" && v) : []);
  const finiteOr = (value, fallback) => (Number.isFinite(value) ? value : fallback);
  const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;
  const shorten = (text, limit = 80) => (text.length > limit ? `${text.slice(0, limit - 1)}…` : text);

  function isWebLink(source) {
    return /^https?:\/\//i.test(source || "");
  }

  // A web address is a link; anything else is the server's business, so users see the id.
  function sourceNode(source, docId) {
    if (isWebLink(source)) {
      return el("a", { href: source, target: "_blank", rel: "noopener noreferrer", text: source });
    }
    return el("span", { class: "doc-name", text: docId || "(unknown)" });
  }

  function where(citation) {
    return citation.location ? `${citation.title} — ${citation.location}` : citation.title;
  }

  function formatDate(iso) {
    const date = new Date(iso);
    return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
  }

  function formatTime(ms) {
    const date = new Date(ms);
    if (!ms || Number.isNaN(date.getTime())) return "";
    return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
  }

  // -- stored conversations ----------------------------------------------------------------
  // localStorage holds {"version": 1, "conversations": [...]}, most recently used first. What
  // cannot be read back (another version, a hand edit, a full disk) is skipped, never fatal.
  function readStore() {
    let raw;
    try {
      raw = localStorage.getItem(CONVERSATIONS_STORAGE);
    } catch {
      return [];
    }
    if (!raw) return [];
    let data;
    try {
      data = JSON.parse(raw);
    } catch {
      return [];
    }
    const list = isObject(data) && Array.isArray(data.conversations) ? data.conversations : [];
    const conversations = list.map(cleanConversation).filter(Boolean);
    return conversations.sort((a, b) => b.updated - a.updated);
  }

  function writeStore(conversations) {
    let kept = conversations.slice(0, MAX_CONVERSATIONS);
    while (kept.length) {
      try {
        const data = JSON.stringify({ version: 1, conversations: kept });
        localStorage.setItem(CONVERSATIONS_STORAGE, data);
        return true;
      } catch (error) {
        const full = error && (error.name === "QuotaExceededError" || error.code === 22);
        if (!full || kept.length === 1) return false;
        kept = kept.slice(0, -1); // storage is full: forget the least recently used
      }
    }
    try {
      localStorage.removeItem(CONVERSATIONS_STORAGE);
      return true;
    } catch {
      return false;
    }
  }

  function cleanConversation(raw) {
    if (!isObject(raw) || typeof raw.id !== "string" || !raw.id || !Array.isArray(raw.turns)) {
      return null;
    }
    const turns = raw.turns.map(cleanTurn).filter(Boolean);
    if (!turns.length) return null;
    const created = finiteOr(raw.created, 0);
    return {
      id: raw.id,
      title: asText(raw.title).slice(0, 200),
      created,
      updated: finiteOr(raw.updated, created),
      turns,
    };
  }

  function cleanTurn(raw) {
    if (!isObject(raw) || typeof raw.question !== "string" || !raw.question) return null;
    const asked = isObject(raw.asked) ? raw.asked : {};
    const turn = {
      question: raw.question,
      asked: { documents: strings(asked.documents), tags: strings(asked.tags) },
      at: finiteOr(raw.at, 0),
    };
    const answer = cleanAnswer(raw.answer);
    if (answer) turn.answer = answer;
    else turn.error = asText(raw.error) || "this answer could not be read back";
    return turn;
  }

  // The answer JSON as the server sent it, with the fields the page reads made safe to read.
  function cleanAnswer(raw) {
    if (!isObject(raw) || typeof raw.answer !== "string") return null;
    const scope = isObject(raw.scope)
      ? {
          documents: strings(raw.scope.documents),
          tags: strings(raw.scope.tags),
          matched: strings(raw.scope.matched),
        }
      : null;
    return Object.assign({}, raw, {
      refused: raw.refused === true,
      citations: cleanCitations(raw.citations),
      passages: cleanCitations(raw.passages),
      question: asText(raw.question),
      scope,
    });
  }

  function cleanCitations(raw) {
    if (!Array.isArray(raw)) return [];
    return raw
      .filter(
        (c) =>
          isObject(c) &&
          Number.isInteger(c.n) &&
          typeof c.doc_id === "string" &&
          Number.isInteger(c.start) &&
          Number.isInteger(c.end),
      )
      .map((c) =>
        Object.assign({}, c, {
          title: asText(c.title) || c.doc_id,
          source: asText(c.source),
          location: asText(c.location),
          quote: asText(c.quote),
        }),
      );
  }

  function newConversation() {
    const random = Math.random().toString(36).slice(2, 10);
    const now = Date.now();
    return { id: `${now.toString(36)}-${random}`, title: "", created: now, updated: now, turns: [] };
  }

  const titleOf = (conversation) => conversation.title || conversation.turns[0].question;

  function reportStorage(ok) {
    $("history-status").textContent = ok
      ? ""
      : "Conversations cannot be kept: this browser's storage is full or turned off.";
  }

  function saveConversation(conversation) {
    if (conversation.deleted || !conversation.turns.length) return;
    conversation.updated = Date.now();
    const others = readStore().filter((c) => c.id !== conversation.id);
    reportStorage(writeStore([conversation, ...others]));
    renderHistory();
  }

  function historyOf(conversation) {
    const messages = [];
    for (const turn of conversation.turns.slice(-MAX_HISTORY_TURNS)) {
      if (!turn.answer) continue; // a failed turn is not part of what was said
      messages.push({ role: "user", content: turn.question });
      messages.push({ role: "assistant", content: turn.answer.answer });
    }
    return messages;
  }

  // -- the conversation list ---------------------------------------------------------------
  function renderHistory() {
    const conversations = readStore();
    $("conversations").replaceChildren(...conversations.map(historyItem));
    $("history-empty").hidden = conversations.length > 0;
  }

  function historyItem(conversation) {
    const title = titleOf(conversation);
    const label = shorten(title);
    const open = el(
      "button",
      { type: "button", class: "saved-open" },
      el("span", { class: "saved-title", text: title }),
      el("span", { class: "saved-date", text: formatTime(conversation.updated) }),
    );
    if (state.conversation && state.conversation.id === conversation.id) {
      open.setAttribute("aria-current", "true");
    }
    open.addEventListener("click", () => openConversation(conversation.id));
    const rename = el("button", {
      type: "button",
      class: "secondary small",
      "aria-label": `Rename “${label}”`,
      text: "Rename",
    });
    rename.addEventListener("click", () => startRename(conversation.id));
    const remove = el("button", {
      type: "button",
      class: "secondary small",
      "aria-label": `Delete “${label}”`,
      text: "Delete",
    });
    remove.addEventListener("click", () => deleteConversation(conversation.id));
    const item = el("li", { class: "saved" }, open, el("div", { class: "saved-actions" }, rename, remove));
    item.dataset.conversationId = conversation.id;
    return item;
  }

  function historyNode(id) {
    return [...$("conversations").children].find((li) => li.dataset.conversationId === id) || null;
  }

  function focusHistory(id) {
    const item = historyNode(id);
    (item ? item.querySelector(".saved-open") : $("new-chat")).focus();
  }

  // While an answer streams, its conversation stays on the page: a reopened copy of it would
  // otherwise be stored over the turn being answered.
  function waitForAnswer() {
    if (state.busy) $("history-status").textContent = "Wait for the answer being written first.";
    return state.busy;
  }

  function openConversation(id) {
    if (waitForAnswer()) return;
    const conversation = readStore().find((c) => c.id === id);
    if (!conversation) {
      renderHistory();
      $("history-status").textContent = "That conversation is no longer kept.";
      return;
    }
    showConversation(conversation);
  }

  function showConversation(conversation) {
    closePassage(false);
    state.conversation = conversation;
    $("conversation").replaceChildren();
    $("empty-state").hidden = Boolean(conversation);
    let last = null;
    for (const record of conversation ? conversation.turns : []) {
      last = addTurn(record.question, false);
      if (record.answer) renderAnswer(last, record.answer);
      else renderError(last, record.error);
    }
    if (last) last.item.scrollIntoView({ block: "nearest" });
    if (conversation) {
      const { asked } = conversation.turns[conversation.turns.length - 1];
      setScope(asked.documents, asked.tags); // follow-ups keep asking where the last one did
    }
    renderHistory();
  }

  function startRename(id) {
    renderHistory(); // at most one rename form
    const item = historyNode(id);
    const conversation = readStore().find((c) => c.id === id);
    if (!item || !conversation) return;
    const input = el("input", { type: "text", id: "rename-input", maxlength: "200", autocomplete: "off" });
    input.value = titleOf(conversation);
    const cancel = el("button", { type: "button", class: "secondary small", text: "Cancel" });
    const form = el(
      "form",
      { class: "rename-form" },
      el("label", { for: "rename-input", text: "New name" }),
      input,
      el("button", { type: "submit", class: "small", text: "Save" }),
      cancel,
    );
    const stop = () => {
      renderHistory();
      focusHistory(id);
    };
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      renameConversation(id, input.value.trim());
      focusHistory(id);
    });
    cancel.addEventListener("click", stop);
    input.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        stop();
      }
    });
    item.replaceChildren(form);
    input.focus();
    input.select();
  }

  function renameConversation(id, name) {
    const conversations = readStore();
    const conversation = conversations.find((c) => c.id === id);
    if (!conversation) return renderHistory();
    // An empty name, or the first question itself, goes back to naming it by its first question.
    const title = name === conversation.turns[0].question ? "" : name.slice(0, 200);
    conversation.title = title;
    if (state.conversation && state.conversation.id === id) state.conversation.title = title;
    const ok = writeStore(conversations);
    reportStorage(ok);
    if (ok) $("history-status").textContent = `Renamed to “${shorten(titleOf(conversation))}”.`;
    renderHistory();
  }

  function deleteConversation(id) {
    const conversations = readStore();
    const conversation = conversations.find((c) => c.id === id);
    if (!conversation) return renderHistory();
    const title = shorten(titleOf(conversation));
    if (!window.confirm(`Delete the conversation “${title}”?`)) return;
    const next = conversations[conversations.indexOf(conversation) + 1] || null;
    const ok = writeStore(conversations.filter((c) => c.id !== id));
    reportStorage(ok);
    if (!ok) return;
    if (state.conversation && state.conversation.id === id) {
      state.conversation.deleted = true; // an answer still on its way is not stored again
      showConversation(null);
    } else {
      renderHistory();
    }
    $("history-status").textContent = `Deleted “${title}”.`;
    focusHistory(next ? next.id : "");
  }

  // -- scope: the documents and tags a question is limited to ------------------------------
  function currentScope() {
    return { documents: [...state.scope.documents], tags: [...state.scope.tags] };
  }

  function setScope(documents, tags) {
    state.scope.documents = new Set(documents);
    state.scope.tags = new Set(tags);
    pruneScope();
    syncScopeControls();
  }

  // Forget ticks for documents and tags the server no longer has.
  function pruneScope() {
    if (!state.documentsLoaded) return;
    const ids = new Set(state.documents.map((d) => d.doc_id));
    const tags = new Set(state.documents.flatMap((d) => d.tags));
    for (const id of state.scope.documents) if (!ids.has(id)) state.scope.documents.delete(id);
    for (const tag of state.scope.tags) if (!tags.has(tag)) state.scope.tags.delete(tag);
  }

  function syncScopeControls() {
    for (const box of document.querySelectorAll("#documents input.scope-check")) {
      box.checked = state.scope.documents.has(box.value);
    }
    for (const box of document.querySelectorAll("#tag-chips input")) {
      box.checked = state.scope.tags.has(box.value);
    }
    renderScopeLine();
  }

  function documentName(docId) {
    const doc = state.documents.find((d) => d.doc_id === docId);
    return doc ? doc.title : docId;
  }

  // “A”, “B” and tags law, eu: what a scope names, for people.
  function describeScope(documents, tags) {
    const parts = [];
    if (documents.length) {
      const names = documents.slice(0, 2).map((id) => `“${shorten(documentName(id), 60)}”`);
      if (documents.length > 2) names.push(`${documents.length - 2} more`);
      parts.push(names.join(", "));
    }
    if (tags.length) parts.push(`${tags.length === 1 ? "tag" : "tags"} ${tags.join(", ")}`);
    return parts.join(" and ");
  }

  function renderScopeLine() {
    const { documents, tags } = currentScope();
    const scoped = documents.length + tags.length > 0;
    let text = "Asking all documents.";
    if (scoped) {
      text = `Asking within: ${describeScope(documents, tags)}`;
      if (tags.length && state.documentsLoaded) {
        const wanted = new Set(tags);
        const count = state.documents.filter(
          (d) => state.scope.documents.has(d.doc_id) || d.tags.some((t) => wanted.has(t)),
        ).length;
        text += ` (${plural(count, "document")})`;
      }
    }
    $("scope-text").textContent = text;
    $("scope-bar").classList.toggle("scoped", scoped);
    $("scope-clear").hidden = !scoped;
  }

  function scopeNote(result) {
    const verb = result.refused ? "Searched" : "Answered from";
    if (!result.scope) return `${verb} all documents.`;
    const { documents, tags, matched } = result.scope;
    return `${verb} ${plural(matched.length, "document")}: ${describeScope(documents, tags)}`;
  }

  // -- the conversation --------------------------------------------------------------------
  function addTurn(question, scroll = true) {
    $("empty-state").hidden = true;
    const answer = el("div", { class: "answer-text", "aria-busy": "true" });
    const body = el("div", { class: "answer" }, answer);
    const item = el(
      "li",
      { class: "turn" },
      el("p", { class: "question" }, el("span", { class: "who", text: "You" }), question),
      el("article", { class: "reply", "aria-label": "Answer" }, body),
    );
    $("conversation").append(item);
    if (scroll) item.scrollIntoView({ block: "end" });
    return { item, body, answer };
  }

  function renderMarkers(container, text, citations) {
    container.replaceChildren();
    const byNumber = new Map(citations.map((c) => [c.n, c]));
    let last = 0;
    for (const match of text.matchAll(/\[(\d+)\]/g)) {
      container.append(text.slice(last, match.index));
      const citation = byNumber.get(Number(match[1]));
      if (citation) {
        const button = el("button", {
          type: "button",
          class: "marker",
          "aria-controls": "passage",
          "aria-expanded": "false",
          "aria-label": `Citation ${citation.n}: ${where(citation)}`,
          text: `[${citation.n}]`,
        });
        button.addEventListener("click", () => openPassage(citation, button, `Passage [${citation.n}]`));
        container.append(button);
      } else {
        container.append(match[0]);
      }
      last = match.index + match[0].length;
    }
    container.append(text.slice(last));
  }

  function passageList(items, label) {
    const list = el("ol", { class: "citation-list" });
    for (const item of items) {
      const title = label(item);
      const button = el("button", {
        type: "button",
        class: "citation-link",
        "aria-controls": "passage",
        "aria-expanded": "false",
      });
      button.append(el("span", { class: "n", text: `[${item.n}]` }), ` ${where(item)}`);
      button.addEventListener("click", () => openPassage(item, button, title));
      list.append(el("li", {}, button));
    }
    return list;
  }

  function renderAnswer(turn, result) {
    turn.answer.removeAttribute("aria-busy");
    const note = el("p", { class: result.scope ? "scope-note scoped" : "scope-note", text: scopeNote(result) });
    if (result.refused) {
      turn.body.classList.add("refused");
      turn.body.prepend(el("p", { class: "refusal-label", text: "Not in the sources" }));
      turn.answer.textContent = result.answer;
      if (result.passages.length) {
        turn.body.append(
          el("p", { class: "list-label", text: "Closest passages (they do not answer the question):" }),
          passageList(result.passages, (p) => `Closest passage ${p.n}`),
        );
      }
      turn.body.append(note);
      return;
    }
    renderMarkers(turn.answer, result.answer, result.citations);
    if (result.citations.length) {
      turn.body.append(
        el("p", { class: "list-label", text: "Sources for this answer:" }),
        passageList(result.citations, (c) => `Passage [${c.n}]`),
      );
    }
    turn.body.append(note);
  }

  function renderError(turn, message) {
    turn.answer.removeAttribute("aria-busy");
    turn.body.classList.add("failed");
    turn.answer.textContent = `Could not answer: ${message}`;
  }

  async function ask(question) {
    if (!state.conversation) state.conversation = newConversation();
    const conversation = state.conversation;
    const asked = currentScope();
    const record = { question, asked, at: Date.now() };
    const turn = addTurn(question);
    const messages = historyOf(conversation).concat([{ role: "user", content: question }]);
    let text = "";
    let result = null;
    try {
      const response = await call("api/chat", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
        body: JSON.stringify({ messages, stream: true, documents: asked.documents, tags: asked.tags }),
      });
      for await (const { event, data } of serverEvents(response)) {
        if (event === "answer") {
          text += data.delta;
          turn.answer.textContent = text;
        } else if (event === "done") {
          result = cleanAnswer(data);
        }
      }
      if (!result) throw new Error("the answer stream ended early; ask again");
      record.answer = result;
      renderAnswer(turn, result);
    } catch (error) {
      record.error = error.message;
      renderError(turn, error.message);
    }
    conversation.turns.push(record);
    saveConversation(conversation);
    turn.item.scrollIntoView({ block: "nearest" });
  }

  async function onAsk(event) {
    event.preventDefault();
    const box = $("question");
    const question = box.value.trim();
    if (!question || state.busy) return;
    state.busy = true;
    $("ask-button").disabled = true;
    $("ask-status").textContent = "Answering…";
    box.value = "";
    try {
      await ask(question);
      $("ask-status").textContent = "";
    } finally {
      state.busy = false;
      $("ask-button").disabled = false;
      box.focus();
    }
  }

  // -- the passage panel: the quote inside its document's text -----------------------------
  function setPassageHead(info) {
    $("passage-title").textContent = info.title;
    $("passage-location").textContent = info.location || "";
    $("passage-location").hidden = !info.location;
    $("passage-date").textContent = info.date ? `Dated ${info.date}` : "";
    $("passage-date").hidden = !info.date;
    $("passage-source").replaceChildren(sourceNode(info.source, info.doc_id));
  }

  async function openPassage(citation, trigger, heading) {
    if (state.trigger) {
      state.trigger.setAttribute("aria-expanded", "false");
      state.trigger.classList.remove("active");
    }
    state.trigger = trigger;
    trigger.setAttribute("aria-expanded", "true");
    trigger.classList.add("active");
    $("passage-heading").textContent = heading;
    hidePage();
    setPassageHead(citation);
    const score = typeof citation.score === "number" ? `, support ${citation.score.toFixed(2)}` : "";
    $("passage-meta").textContent =
      `Document ${citation.doc_id}, characters ${citation.start}–${citation.end}${score}`;
    const box = $("passage-quote");
    box.replaceChildren(citation.quote);
    box.setAttribute("aria-busy", "true");
    $("passage-status").textContent = "Loading the text around the quote…";
    $("passage").hidden = false;
    $("passage-heading").focus();

    if (state.passageRequest) state.passageRequest.abort();
    const request = new AbortController();
    state.passageRequest = request;
    const query = new URLSearchParams({
      doc_id: citation.doc_id,
      start: String(citation.start),
      end: String(citation.end),
    });
    try {
      const response = await call(`api/passage?${query}`, { signal: request.signal });
      const passage = await response.json();
      if (request.signal.aborted) return;
      showContext(passage);
      $("passage-status").textContent = "";
      showPage(passage); // reports on its own: the text is there whatever becomes of the page
    } catch (error) {
      if (request.signal.aborted) return;
      box.replaceChildren(el("mark", { text: citation.quote }));
      $("passage-status").textContent = `The text around the quote could not be shown: ${error.message}`;
    } finally {
      if (state.passageRequest === request) {
        state.passageRequest = null;
        box.removeAttribute("aria-busy");
      }
    }
  }

  function showContext(passage) {
    if (!isObject(passage) || typeof passage.text !== "string") {
      throw new Error("the server sent no text");
    }
    const text = passage.text;
    const from = passage.quote_start - passage.start;
    const to = passage.quote_end - passage.start;
    if (!(Number.isInteger(from) && Number.isInteger(to) && from >= 0 && from < to && to <= text.length)) {
      throw new Error("the server's text does not hold the quote");
    }
    setPassageHead({
      title: asText(passage.title) || asText(passage.doc_id),
      location: asText(passage.location),
      date: asText(passage.date),
      source: asText(passage.source),
      doc_id: asText(passage.doc_id),
    });
    const head = text.slice(0, from);
    const mark = el("mark", { text: text.slice(from, to) });
    const box = $("passage-quote");
    box.replaceChildren(head.replace(/^\s+/, ""), mark, text.slice(to).replace(/\s+$/, ""));
    box.scrollTop = Math.max(0, mark.offsetTop - box.clientHeight / 3);
    mark.scrollIntoView({ block: "nearest" });
  }

  function closePassage(returnFocus = true) {
    hidePage();
    if (state.passageRequest) {
      state.passageRequest.abort();
      state.passageRequest = null;
      $("passage-quote").removeAttribute("aria-busy");
    }
    $("passage").hidden = true;
    if (state.trigger) {
      state.trigger.setAttribute("aria-expanded", "false");
      state.trigger.classList.remove("active");
      if (returnFocus) state.trigger.focus();
      state.trigger = null;
    }
  }

  // -- the passage panel: the page of a PDF, drawn with the quote highlighted ---------------
  function pdfModule() {
    if (!state.pdfModule) {
      state.pdfModule = import(new URL("static/pdf-page.js", document.baseURI).href);
      state.pdfModule.catch(() => {
        state.pdfModule = null; // try again next time
      });
    }
    return state.pdfModule;
  }

  // The document's file, fetched with the API key and opened by pdf.js once per version of it.
  function loadPdf(docId) {
    const doc = state.documents.find((d) => d.doc_id === docId);
    const key = `${docId}\n${doc ? doc.ingested_at : ""}`;
    if (state.pdf && state.pdf.key === key) return state.pdf.ready;
    dropPdf();
    const entry = { key };
    entry.ready = (async () => {
      const query = new URLSearchParams({ doc_id: docId });
      const [viewer, response] = await Promise.all([pdfModule(), call(`api/original?${query}`)]);
      const file = new Blob([await response.blob()], { type: "application/pdf" });
      const pdf = await viewer.openDocument(new Uint8Array(await file.arrayBuffer()));
      if (state.pdf !== entry) {
        pdf.destroy();
        throw new Error("another document was opened meanwhile");
      }
      return { url: URL.createObjectURL(file), doc: pdf };
    })();
    entry.ready.catch(() => {
      if (state.pdf === entry) state.pdf = null;
    });
    state.pdf = entry;
    return entry.ready;
  }

  function dropPdf() {
    if (!state.pdf) return;
    state.pdf.ready.then(
      ({ url, doc }) => {
        URL.revokeObjectURL(url);
        doc.destroy();
      },
      () => {},
    );
    state.pdf = null;
  }

  function hidePage() {
    state.pageTicket += 1;
    state.pageLink = null;
    $("passage-page").hidden = true;
    $("passage-page-view").replaceChildren();
  }

  async function showPage(passage) {
    if (!(passage.has_file === true && Number.isInteger(passage.page) && passage.page > 0)) return;
    const ticket = state.pageTicket;
    const number = passage.page;
    const status = $("passage-page-status");
    const view = $("passage-page-view");
    const open = $("passage-open");
    $("passage-page-caption").textContent = `Page ${number}`;
    open.textContent = `Open the PDF at page ${number}`;
    open.disabled = true;
    status.textContent = `Drawing page ${number}…`;
    view.setAttribute("aria-busy", "true");
    $("passage-page").hidden = false;
    try {
      const { url, doc } = await loadPdf(passage.doc_id);
      if (ticket !== state.pageTicket) return;
      state.pageLink = { url, page: number };
      open.disabled = false;
      const viewer = await pdfModule();
      const width = Math.max(200, view.clientWidth);
      const { sheet, marks } = await viewer.drawPage(doc, number, passage.quote, width);
      if (ticket !== state.pageTicket) return;
      const title = asText(passage.title) || passage.doc_id;
      sheet.setAttribute("role", "img");
      const label = `Page ${number} of ${title}${marks ? ", the quote highlighted" : ""}`;
      sheet.setAttribute("aria-label", label);
      view.replaceChildren(sheet);
      status.textContent = marks
        ? ""
        : "The quote could not be found on the drawn page; it is marked in the text above.";
      const first = sheet.querySelector(".pdf-mark");
      if (first) {
        const offset = first.getBoundingClientRect().top - view.getBoundingClientRect().top;
        view.scrollTop = Math.max(0, view.scrollTop + offset - view.clientHeight / 3);
      }
    } catch (error) {
      if (ticket !== state.pageTicket) return;
      status.textContent = `Page ${number} could not be shown: ${error.message}`;
    } finally {
      if (ticket === state.pageTicket) view.removeAttribute("aria-busy");
    }
  }

  // A new tab with the PDF at the page; the file is the one already fetched with the API key.
  function openAtPage() {
    const link = state.pageLink;
    if (!link) return;
    const tab = window.open(`${link.url}#page=${link.page}`, "_blank");
    if (tab) tab.opener = null;
    else $("passage-page-status").textContent = "The new tab was blocked: allow pop-ups for this page.";
  }

  // -- sources -----------------------------------------------------------------------------
  async function loadDocuments() {
    const list = $("documents");
    try {
      const response = await call("api/documents");
      const { documents } = await response.json();
      state.documents = documents.map((d) => Object.assign({}, d, { tags: strings(d.tags) }));
      state.documentsLoaded = true;
      pruneScope();
      list.replaceChildren(...state.documents.map(documentItem));
      if (!documents.length) {
        list.append(el("li", { class: "hint", text: "No documents yet: upload some above." }));
      }
    } catch (error) {
      list.replaceChildren(el("li", { class: "error", text: `Could not list sources: ${error.message}` }));
    }
    renderTagChips();
    renderScopeLine();
  }

  function documentItem(doc, index) {
    const id = `scope-doc-${index}`;
    const check = el("input", { type: "checkbox", id, class: "scope-check", value: doc.doc_id });
    check.checked = state.scope.documents.has(doc.doc_id);
    check.addEventListener("change", () => {
      if (check.checked) state.scope.documents.add(doc.doc_id);
      else state.scope.documents.delete(doc.doc_id);
      renderScopeLine();
    });
    const remove = el("button", {
      type: "button",
      class: "secondary small doc-remove",
      "aria-label": `Remove ${doc.title}`,
      text: "Remove",
    });
    remove.addEventListener("click", () => removeDocument(doc));
    const meta = `${doc.doc_id} · ${doc.chunks} passages · added ${formatDate(doc.ingested_at)}`;
    const item = el(
      "li",
      { class: "document", "data-doc-id": doc.doc_id },
      el("div", { class: "doc-head" }, check, el("label", { for: id, class: "doc-title", text: doc.title })),
      el("p", { class: "doc-meta", text: meta }),
    );
    if (isWebLink(doc.source)) item.append(el("p", { class: "doc-source" }, sourceNode(doc.source)));
    item.append(tagLine(doc, index, remove));
    return item;
  }

  // The document's tags, each removable, a small form to add one, and the document's remove button.
  function tagLine(doc, index, remove) {
    const line = el("div", { class: "doc-tags" });
    for (const tag of doc.tags) {
      const drop = el("button", {
        type: "button",
        class: "tag-remove",
        "aria-label": `Remove the tag ${tag} from ${doc.title}`,
        text: "×",
      });
      drop.addEventListener("click", () => changeTags(doc, { remove: [tag] }));
      line.append(el("span", { class: "tag" }, tag, drop));
    }
    const formId = `tag-form-${index}`;
    const adder = el("button", {
      type: "button",
      class: "secondary small tag-add",
      "aria-expanded": "false",
      "aria-controls": formId,
      "aria-label": `Add a tag to ${doc.title}`,
      text: "Add tag",
    });
    const inputId = `tag-input-${index}`;
    const input = el("input", { type: "text", id: inputId, maxlength: "100", autocomplete: "off" });
    const form = el(
      "form",
      { class: "tag-form", id: formId },
      el("label", { for: inputId, class: "visually-hidden", text: `New tag for ${doc.title}` }),
      input,
      el("button", { type: "submit", class: "small", text: "Add" }),
    );
    form.hidden = true;
    const toggle = (open) => {
      form.hidden = !open;
      adder.setAttribute("aria-expanded", String(open));
      if (open) input.focus();
    };
    adder.addEventListener("click", () => toggle(form.hidden));
    input.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        toggle(false);
        adder.focus();
      }
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const tags = input.value.split(",").map((t) => t.trim()).filter(Boolean);
      if (tags.length) changeTags(doc, { add: tags });
    });
    line.append(adder, remove, form);
    return line;
  }

  async function changeTags(doc, change) {
    const status = $("upload-status");
    status.classList.remove("error");
    try {
      const response = await call(documentPath(doc.doc_id), {
        method: "PATCH",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(change),
      });
      const updated = await response.json();
      const tags = strings(updated.tags);
      status.textContent = tags.length
        ? `${doc.title}: tagged ${tags.join(", ")}.`
        : `${doc.title}: no tags.`;
    } catch (error) {
      status.classList.add("error");
      status.textContent = `Could not change the tags of ${doc.doc_id}: ${error.message}`;
    }
    await loadDocuments();
    const item = [...$("documents").children].find((li) => li.dataset.docId === doc.doc_id);
    if (item) item.querySelector(".tag-add").focus(); // the list was redrawn under the focus
  }

  function renderTagChips() {
    const counts = new Map();
    for (const doc of state.documents) for (const tag of doc.tags) counts.set(tag, (counts.get(tag) || 0) + 1);
    const chips = [...counts.keys()].sort().map((tag, index) => {
      const id = `scope-tag-${index}`;
      const box = el("input", { type: "checkbox", id, value: tag });
      box.checked = state.scope.tags.has(tag);
      box.addEventListener("change", () => {
        if (box.checked) state.scope.tags.add(tag);
        else state.scope.tags.delete(tag);
        renderScopeLine();
      });
      const label = el("label", { for: id, class: "chip-label" }, tag, el("span", { class: "count", text: ` ${counts.get(tag)}` }));
      return el("span", { class: "chip" }, box, label);
    });
    $("tag-chips").replaceChildren(...chips);
    $("tag-filter").hidden = chips.length === 0;
  }

  async function removeDocument(doc) {
    if (!window.confirm(`Remove “${doc.title}” from the sources?`)) return;
    const status = $("upload-status");
    try {
      await call(documentPath(doc.doc_id), { method: "DELETE" });
      status.textContent = `Removed ${doc.doc_id}.`;
    } catch (error) {
      status.textContent = `Could not remove ${doc.doc_id}: ${error.message}`;
    }
    await loadDocuments();
  }

  async function onUpload(event) {
    event.preventDefault();
    const input = $("files");
    const status = $("upload-status");
    if (!input.files.length) return;
    const form = new FormData();
    for (const file of input.files) form.append("files", file, file.name);
    const tags = $("upload-tags").value.trim();
    if (tags) form.append("tags", tags);
    $("upload-button").disabled = true;
    status.classList.remove("error");
    status.textContent = "Uploading and indexing…";
    try {
      const response = await call("api/documents", { method: "POST", body: form });
      const report = await response.json();
      const parts = [`added ${report.added}`, `updated ${report.updated}`, `unchanged ${report.unchanged}`];
      let message = `${report.documents.join(", ")}: ${parts.join(", ")}.`;
      for (const failure of report.failed) message += ` Failed: ${failure.error}`;
      status.textContent = message;
      input.value = "";
      $("upload-tags").value = "";
    } catch (error) {
      status.classList.add("error");
      status.textContent = `Upload failed: ${error.message}`;
    } finally {
      $("upload-button").disabled = false;
    }
    await loadDocuments();
  }

  // -- API key -----------------------------------------------------------------------------
  function showKeyForm() {
    $("key-form").hidden = false;
    $("key-button").hidden = false;
    $("api-key").focus();
  }

  function onSaveKey(event) {
    event.preventDefault();
    try {
      localStorage.setItem(KEY_STORAGE, $("api-key").value.trim());
    } catch {
      // storage disabled: the key cannot be kept
    }
    $("api-key").value = "";
    $("key-form").hidden = true;
    loadDocuments();
    $("question").focus();
  }

  // -- wiring ------------------------------------------------------------------------------
  document.addEventListener("DOMContentLoaded", () => {
    $("ask-form").addEventListener("submit", onAsk);
    $("question").addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        $("ask-form").requestSubmit();
      }
    });
    $("upload-form").addEventListener("submit", onUpload);
    $("passage-close").addEventListener("click", () => closePassage());
    $("passage-open").addEventListener("click", openAtPage);
    $("passage").addEventListener("keydown", (event) => {
      if (event.key === "Escape") closePassage();
    });
    $("key-form").addEventListener("submit", onSaveKey);
    $("key-button").addEventListener("click", showKeyForm);
    $("key-button").hidden = !storedKey();
    $("scope-clear").addEventListener("click", () => {
      setScope([], []);
      $("question").focus();
    });
    $("new-chat").addEventListener("click", () => {
      if (waitForAnswer()) return;
      showConversation(null);
      $("question").focus();
    });
    window.addEventListener("storage", (event) => {
      if (event.key === CONVERSATIONS_STORAGE || event.key === null) renderHistory();
    });
    renderHistory();
    renderScopeLine();
    loadDocuments();
  });
})();
