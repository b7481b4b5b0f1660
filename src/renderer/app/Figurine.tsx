/** The CuteFigurine: a jelly skeleton drawn in SVG; CSS plays the animation the bus commands. */
export interface FigurineProps {
  /** The animation playing now (from the latest AnimationCommand), or undefined at rest. */
  animation: string | undefined
  /** How many commands it has reacted to (exposed for tests and the curious). */
  reactions: number
  mood: string
}

export function Figurine({ animation, reactions, mood }: FigurineProps) {
  return (
    <svg
      class={`figurine mood-${mood} ${animation ? `anim-${animation}` : ''}`}
      data-animation={animation ?? 'rest'}
      data-reactions={reactions}
      viewBox="0 0 200 220"
      role="img"
      aria-label={`Skelly the jelly skeleton, ${animation ? `doing a ${animation}` : 'resting'}`}
    >
      <defs>
        <radialGradient id="jelly" cx="45%" cy="35%" r="70%">
          <stop offset="0%" stop-color="#c9f3ff" />
          <stop offset="60%" stop-color="#7fd6f5" />
          <stop offset="100%" stop-color="#4aa7d6" />
        </radialGradient>
      </defs>
      <g class="body">
        <path
          class="jelly"
          d="M100 20 C150 20 178 62 178 112 C178 168 146 200 100 200 C54 200 22 168 22 112 C22 62 50 20 100 20 Z"
          fill="url(#jelly)"
        />
        <g class="arm arm-left">
          <rect x="12" y="110" width="36" height="9" rx="4.5" fill="#f7f3e8" />
        </g>
        <g class="arm arm-right">
          <rect x="152" y="110" width="36" height="9" rx="4.5" fill="#f7f3e8" />
        </g>
        <ellipse cx="100" cy="82" rx="36" ry="32" fill="#f7f3e8" />
        <ellipse class="eye" cx="86" cy="80" rx="8" ry="10" fill="#2a2d3a" />
        <ellipse class="eye" cx="114" cy="80" rx="8" ry="10" fill="#2a2d3a" />
        <path d="M97 95 L100 90 L103 95 Z" fill="#2a2d3a" />
        <path class="mouth" d="M86 103 Q100 112 114 103" stroke="#2a2d3a" stroke-width="3" fill="none" />
        <g stroke="#f7f3e8" stroke-width="6" stroke-linecap="round">
          <line x1="100" y1="122" x2="100" y2="170" />
          <line x1="78" y1="132" x2="122" y2="132" />
          <line x1="80" y1="146" x2="120" y2="146" />
          <line x1="84" y1="160" x2="116" y2="160" />
        </g>
      </g>
      <g class="sparkles">
        <circle cx="40" cy="40" r="4" fill="#ffd166" />
        <circle cx="165" cy="55" r="3" fill="#ffd166" />
        <circle cx="170" cy="170" r="4" fill="#ffd166" />
      </g>
    </svg>
  )
}
