// Issue 19 development cases: request data and built strings that never become SQL.
const express = require("express");
const { exec } = require("child_process");
const redis = require("redis").createClient();

const app = express();
const cache = new Map();

// case: js-dev19-look-map-get safe
app.get("/cached", (req, res) => {
  res.json(cache.get("user:" + req.params.id));
});

// case: js-dev19-look-redis-get safe
app.get("/session", async (req, res) => {
  res.json(await redis.get(`session:${req.query.sid}`));
});

// case: js-dev19-look-child-process safe
app.get("/ls", (req, res) => {
  exec("ls -la " + req.query.dir, (err, out) => res.send(out));
});

// case: js-dev19-look-response-text safe
app.get("/missing", (req, res) => {
  res.status(404).send(`Query ${req.query.q} returned nothing`);
});

// case: js-dev19-look-query-selector safe
function highlight(id) {
  return document.querySelector(`#row-${id}`);
}

// case: js-dev19-look-regex-exec safe
app.get("/match", (req, res) => {
  res.json(/^[a-z]+$/.exec("name:" + req.query.name));
});

// case: js-dev19-look-url-fetch safe
app.get("/proxy", async (req, res) => {
  const response = await fetch(`https://api.example.com/items?select=${req.query.fields}&from=db`);
  res.json(await response.json());
});

module.exports = { app, highlight };
