#!/usr/bin/env bun
/** The `bunka` command: the same entry as `bun run broker`. */
import "../src/main.ts";
