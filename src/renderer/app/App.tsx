/**
 * The app window's content: the figurine, the current activity state, rewards, Skelly's last
 * words, and two controls that publish from this window (a tip request that AiIntegration answers,
 * and a poke that Storage records).
 */
import { useEffect, useRef, useState } from 'preact/hooks'
import type { ConnectionState, SkellyBusApi, SkellyBusError } from '../../preload/skelly-bus.js'
// Counts as the inspector writes them: 12,345, not 12345.
import { count } from '../inspector/format.js'
import { Figurine } from './Figurine.js'
import { addReward, loadRewards, type StoredReward } from './rewards-store.js'

interface Activity {
  state: string
  confidence: number
}

const ANSWER_TIMEOUT_MS = 8000

/** An error as the window says it: a bus error's message starts with its kind already. */
function describeError(error: unknown): string {
  const e = error as Partial<SkellyBusError>
  return e.kind !== undefined && e.message !== undefined ? e.message : String(error)
}

/** What the window says when its request for a tip failed, and for no answer in time, why that may be. */
function describeFailedAsk(error: unknown, connection: ConnectionState): string {
  const { kind } = error as Partial<SkellyBusError>
  // The hub saw no subscription of AiIntegration's take the request: it is not running (yet).
  if (kind === 'SubscriberUnavailable')
    return 'Skelly’s AI module is not running — try again once it has started.'
  if (kind !== 'DeliveryTimeout') return describeError(error)
  // AiIntegration took the request and did not answer in time, or the connection dropped meanwhile.
  return connection === 'open'
    ? 'No answer from Skelly in time — the AI module may be busy. Try again in a moment.'
    : 'No answer from Skelly: the connection to the bus dropped. The window is reconnecting.'
}

export function App({ bus }: { bus: SkellyBusApi }) {
  const [connection, setConnection] = useState<ConnectionState>('connecting')
  /** The connection now, for a request that settles after the render that sent it. */
  const connectionNow = useRef(connection)
  connectionNow.current = connection
  const [animation, setAnimation] = useState<string>()
  const [reactions, setReactions] = useState(0)
  const [activity, setActivity] = useState<Activity>()
  const [rewards, setRewards] = useState<StoredReward[]>(loadRewards)
  const [speech, setSpeech] = useState('Hi! I’m Skelly. I’ll keep you company.')
  const [stored, setStored] = useState<number>()
  const [error, setError] = useState<string>()
  const [thinking, setThinking] = useState(false)
  /** Subscribed to everything the window shows: only then can a reply not slip past. */
  const [ready, setReady] = useState(false)
  const animationTimer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined)

  useEffect(() => {
    const stopConnection = bus.onConnection(setConnection)
    const subscriptions = [
      bus.subscribe(
        { types: ['AnimationCommand'] },
        { kind: 'LatestOnly' },
        (message) => {
          const { animationType, durationMs } = message.payload.data
          setAnimation(animationType)
          setReactions((count) => count + 1)
          clearTimeout(animationTimer.current)
          animationTimer.current = setTimeout(() => setAnimation(undefined), durationMs)
        },
        { label: 'animates the figurine' },
      ),
      bus.subscribe(
        { types: ['StateChange'] },
        { kind: 'LatestOnly' },
        (message) => {
          setActivity({ state: message.payload.data.state, confidence: message.payload.data.confidence })
        },
        { label: 'shows the activity' },
      ),
      bus.subscribe(
        { types: ['RewardEvent'] },
        { kind: 'Reliable', timeoutMs: 5000 },
        (message) => {
          setRewards((current) => addReward(current, message.payload.data))
        },
        { label: 'counts rewards' },
      ),
      // Every answer Skelly gives, to this window's requests and to the interventions of the pipeline.
      bus.subscribe(
        { types: ['InterventionResponse'] },
        { kind: 'BestEffort' },
        (message) => {
          setSpeech(message.payload.data.responseText)
        },
        { label: "shows Skelly's answers" },
      ),
      bus.subscribe(
        { types: ['StorageStatus'] },
        { kind: 'LatestOnly' },
        (message) => {
          setStored(message.payload.data.totalEvents)
        },
        { label: 'shows the stored events' },
      ),
    ]
    Promise.all(subscriptions).then(
      () => setReady(true),
      (e: unknown) => setError(describeError(e)),
    )
    return () => {
      stopConnection()
      for (const subscription of subscriptions)
        void subscription.then((id) => bus.unsubscribe(id)).catch(() => {})
    }
  }, [bus])

  async function askForTip() {
    setThinking(true)
    setError(undefined)
    try {
      // The answer itself is said by the InterventionResponse subscription above.
      await bus.request(
        'InterventionRequest',
        {
          requestId: crypto.randomUUID(),
          interventionType: 'tip',
          urgency: 'low',
          context: { from: 'app-window' },
        },
        // AiIntegration gives tips: a reply of any other module's does not answer this request.
        { replyType: 'InterventionResponse', timeoutMs: ANSWER_TIMEOUT_MS, from: 'ai-integration' },
      )
    } catch (e) {
      setError(describeFailedAsk(e, connectionNow.current))
    } finally {
      setThinking(false)
    }
  }

  async function poke() {
    setError(undefined)
    try {
      await bus.publish('RawEvent', {
        eventType: 'poke',
        data: { from: 'app-window' },
        timestamp: new Date(),
      })
    } catch (e) {
      setError(describeError(e))
    }
  }

  const points = rewards.reduce((sum, reward) => sum + reward.points, 0)
  const mood = activity?.state ?? 'unknown'
  // Without a connection a click would wait, unanswered, and go out late: the buttons wait instead.
  const offline = connection !== 'open'
  const offlineHint = offline ? 'Waiting for the connection to the bus' : undefined
  return (
    <main class="app">
      <header>
        <h1>Skelly-Jelly</h1>
        <span class={`connection connection-${connection}`} data-testid="connection">
          {connection}
        </span>
      </header>
      <section class="stage">
        <Figurine animation={animation} reactions={reactions} mood={mood} />
        {/* A status region: screen readers announce what Skelly says without moving focus. */}
        <p class="speech" role="status" data-testid="speech">
          {speech}
        </p>
      </section>
      <section class="cards">
        <article class={`card state state-${mood}`}>
          <h2>Right now</h2>
          <p class="big" data-testid="state">
            {activity?.state ?? '…'}
          </p>
          <p class="muted">
            {activity ? `${Math.round(activity.confidence * 100)} % sure` : 'waiting for the first analysis'}
          </p>
        </article>
        <article class="card">
          <h2>Rewards</h2>
          <p class="big" data-testid="points">
            {count(points)}
          </p>
          <p class="muted" data-testid="reward-count" data-count={rewards.length}>
            {rewards.at(-1)?.description ?? 'no rewards yet'}
          </p>
        </article>
        <article class="card">
          <h2>Stored events</h2>
          <p class="big" data-testid="stored">
            {stored === undefined ? '…' : count(stored)}
          </p>
          <p class="muted">written by the Storage module</p>
        </article>
      </section>
      <section class="controls">
        <button
          type="button"
          onClick={askForTip}
          disabled={!ready || thinking || offline}
          title={offlineHint}
          data-testid="ask"
        >
          {thinking ? 'Skelly is thinking…' : 'Ask Skelly for a tip'}
        </button>
        <button
          type="button"
          class="secondary"
          onClick={poke}
          disabled={offline}
          title={offlineHint}
          data-testid="poke"
        >
          Poke
        </button>
        {connection === 'reconnecting' && (
          <span class="muted" data-testid="offline">
            The connection to the bus dropped; reconnecting…
          </span>
        )}
      </section>
      {error && (
        <p class="error" role="alert" data-testid="error">
          {error}
        </p>
      )}
    </main>
  )
}
