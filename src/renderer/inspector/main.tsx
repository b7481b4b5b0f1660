/** The bus inspector window. It knows only `window.skellyBus` (granted `inspect`). */
import { render } from 'preact'
import { Inspector } from './Inspector.js'
import './inspector.css'

const root = document.getElementById('inspector')
if (root) render(<Inspector bus={window.skellyBus} />, root)
