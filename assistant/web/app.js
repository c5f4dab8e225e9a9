// Chat page: streams answers from /api/chat, opens cited passages, lists and uploads sources.
// Server text is only ever inserted with textContent, never as HTML.
"use strict";

(() => {
  const KEY_STORAGE = "cited-assistant.api-key";
  const $ = (id) => document.getElementById(id);
  const state = { messages: [], busy: false, trigger: null };

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

  // -- small DOM helpers -------------------------------------------------------------------
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

  function isWebLink(source) {
    return /^https?:\/\//i.test(source || "");
  }

  function sourceNode(source) {
    if (isWebLink(source)) {
      return el("a", { href: source, target: "_blank", rel: "noopener noreferrer", text: source });
    }
    return el("span", { class: "path", text: source || "(unknown)" });
  }

  function where(citation) {
    return citation.location ? `${citation.title} — ${citation.location}` : citation.title;
  }

  // -- the conversation --------------------------------------------------------------------
  function addTurn(question) {
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
    item.scrollIntoView({ block: "end" });
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
    if (result.refused) {
      turn.body.classList.add("refused");
      turn.body.prepend(el("p", { class: "refusal-label", text: "Not in the sources" }));
      turn.answer.textContent = result.answer;
      if (result.passages && result.passages.length) {
        turn.body.append(
          el("p", { class: "list-label", text: "Closest passages (they do not answer the question):" }),
          passageList(result.passages, (p) => `Closest passage ${p.n}`),
        );
      }
      return;
    }
    renderMarkers(turn.answer, result.answer, result.citations);
    if (result.citations.length) {
      turn.body.append(
        el("p", { class: "list-label", text: "Sources for this answer:" }),
        passageList(result.citations, (c) => `Passage [${c.n}]`),
      );
    }
  }

  function renderError(turn, message) {
    turn.answer.removeAttribute("aria-busy");
    turn.body.classList.add("failed");
    turn.answer.textContent = `Could not answer: ${message}`;
  }

  async function ask(question) {
    const turn = addTurn(question);
    const messages = state.messages.concat([{ role: "user", content: question }]);
    let text = "";
    let result = null;
    try {
      const response = await call("api/chat", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
        body: JSON.stringify({ messages, stream: true }),
      });
      for await (const { event, data } of serverEvents(response)) {
        if (event === "answer") {
          text += data.delta;
          turn.answer.textContent = text;
        } else if (event === "done") {
          result = data;
        }
      }
      if (!result) throw new Error("the answer stream ended early; ask again");
      renderAnswer(turn, result);
      state.messages = messages.concat([{ role: "assistant", content: result.answer }]);
    } catch (error) {
      renderError(turn, error.message);
    }
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

  // -- the passage panel -------------------------------------------------------------------
  function openPassage(citation, trigger, heading) {
    if (state.trigger) {
      state.trigger.setAttribute("aria-expanded", "false");
      state.trigger.classList.remove("active");
    }
    state.trigger = trigger;
    trigger.setAttribute("aria-expanded", "true");
    trigger.classList.add("active");
    $("passage-heading").textContent = heading;
    $("passage-title").textContent = citation.title;
    $("passage-location").textContent = citation.location || "";
    $("passage-location").hidden = !citation.location;
    $("passage-quote").textContent = citation.quote;
    $("passage-source").replaceChildren(sourceNode(citation.source));
    const score = typeof citation.score === "number" ? `, support ${citation.score.toFixed(2)}` : "";
    $("passage-meta").textContent =
      `Document ${citation.doc_id}, characters ${citation.start}–${citation.end}${score}`;
    $("passage").hidden = false;
    $("passage-heading").focus();
  }

  function closePassage() {
    $("passage").hidden = true;
    if (state.trigger) {
      state.trigger.setAttribute("aria-expanded", "false");
      state.trigger.classList.remove("active");
      state.trigger.focus();
      state.trigger = null;
    }
  }

  // -- sources -----------------------------------------------------------------------------
  function formatDate(iso) {
    const date = new Date(iso);
    return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
  }

  async function loadDocuments() {
    const list = $("documents");
    try {
      const response = await call("api/documents");
      const { documents } = await response.json();
      list.replaceChildren();
      if (!documents.length) {
        list.append(el("li", { class: "hint", text: "No documents yet: upload some above." }));
      }
      for (const doc of documents) {
        const remove = el("button", {
          type: "button",
          class: "secondary small",
          "aria-label": `Remove ${doc.title}`,
          text: "Remove",
        });
        remove.addEventListener("click", () => removeDocument(doc));
        const meta = `${doc.doc_id} · ${doc.chunks} passages · added ${formatDate(doc.ingested_at)}`;
        const item = el(
          "li",
          { class: "document", "data-doc-id": doc.doc_id },
          el("p", { class: "doc-title", text: doc.title }),
          el("p", { class: "doc-meta", text: meta }),
        );
        if (isWebLink(doc.source)) item.append(el("p", { class: "doc-source" }, sourceNode(doc.source)));
        item.append(remove);
        list.append(item);
      }
    } catch (error) {
      list.replaceChildren(el("li", { class: "error", text: `Could not list sources: ${error.message}` }));
    }
  }

  async function removeDocument(doc) {
    if (!window.confirm(`Remove “${doc.title}” from the sources?`)) return;
    const status = $("upload-status");
    try {
      const path = doc.doc_id.split("/").map(encodeURIComponent).join("/");
      await call(`api/documents/${path}`, { method: "DELETE" });
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
    $("passage-close").addEventListener("click", closePassage);
    $("passage").addEventListener("keydown", (event) => {
      if (event.key === "Escape") closePassage();
    });
    $("key-form").addEventListener("submit", onSaveKey);
    $("key-button").addEventListener("click", showKeyForm);
    $("key-button").hidden = !storedKey();
    $("new-chat").addEventListener("click", () => {
      state.messages = [];
      $("conversation").replaceChildren();
      $("empty-state").hidden = false;
      closePassage();
      $("question").focus();
    });
    loadDocuments();
  });
})();
