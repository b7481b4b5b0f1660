/** The app window: the CuteFigurine reacting to the bus. It knows only `window.skellyBus`. */
import { render } from 'preact'
import { App } from './App.js'
import './app.css'

const root = document.getElementById('app')
if (root) render(<App bus={window.skellyBus} />, root)
