#!/usr/bin/env node
// Thin launcher so the bin link exists before the first build has produced dist/.
import('../dist/main.js');
