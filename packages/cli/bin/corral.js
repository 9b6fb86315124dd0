#!/usr/bin/env -S node --concurrent-marking-max-worker-num=1
// Thin launcher so the bin link exists before the first build has produced dist/.
import('../dist/main.js');
