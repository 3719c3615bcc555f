// vsce packages only this folder: copy the one TextMate grammar (editors/textmate) in before packaging.
"use strict";

const fs = require("fs");
const path = require("path");

const target = path.join(__dirname, "syntaxes");
fs.mkdirSync(target, { recursive: true });
fs.copyFileSync(
  path.join(__dirname, "..", "textmate", "ppflow.tmLanguage.json"),
  path.join(target, "ppflow.tmLanguage.json")
);
