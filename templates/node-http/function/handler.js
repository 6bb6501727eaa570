'use strict'

// Answers one request. event.body is parsed JSON for application/json, else a string;
// event.headers, event.method, event.query and event.path describe the rest.
module.exports = async (event, context) => {
  console.log(`handling ${event.method} ${event.path}`)
  const name = event.body || 'world'
  return context
    .status(200)
    .headers({ 'Content-Type': 'text/plain' })
    .succeed(`Hello from node-http! You said: ${name}`)
}
