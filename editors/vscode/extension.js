// The ppflow extension: the language (configuration and TextMate grammar come
// from package.json) and a client that starts `ppdsl lsp` on stdio. Everything
// else (diagnostics, formatting, hover, completion, the Run lens) is the server's.
"use strict";

const vscode = require("vscode");
const { LanguageClient } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const [command, ...args] = vscode.workspace.getConfiguration("ppflow").get("server.command", ["ppdsl", "lsp"]);
  const server = { command, args };
  client = new LanguageClient(
    "ppflow",
    "ppflow (ppdsl lsp)",
    { run: server, debug: server },
    { documentSelector: [{ scheme: "file", language: "ppflow" }, { scheme: "untitled", language: "ppflow" }] }
  );
  context.subscriptions.push(client);
  return client.start().catch((error) => {
    vscode.window.showErrorMessage(
      `ppflow: can't start \`${command} ${args.join(" ")}\` (${error.message}). Install it with: pip install 'ppdsl[lsp]'`
    );
  });
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
