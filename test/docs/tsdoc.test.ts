/**
 * Every public API is documented in TSDoc: each name the public entry points export, and each
 * member of the interfaces, classes and object types among them, has a doc comment an editor
 * shows on hover. The entry points are the ones BUS-API.md and the README name: the bus core, the
 * hub, the endpoint client, the modules' definitions and the renderer's `window.skellyBus`.
 */
import { join } from 'node:path'
import ts from 'typescript'
import { expect, it } from 'vitest'

const root = join(import.meta.dirname, '../..')
const ENTRY_POINTS = [
  'src/main/bus/index.ts',
  'src/main/hub/index.ts',
  'src/shared/index.ts',
  'src/modules/index.ts',
  'src/preload/skelly-bus.d.ts',
].map((entry) => join(root, entry))

function compilerOptions(): ts.CompilerOptions {
  const configPath = join(root, 'tsconfig.json')
  const { config } = ts.readConfigFile(configPath, ts.sys.readFile)
  return ts.parseJsonConfigFileContent(config, ts.sys, root).options
}

/** Members an outside reader sees: not private, not `#private`, not the constructor. */
function publicMembers(declaration: ts.Declaration): readonly ts.NamedDeclaration[] {
  const members =
    ts.isInterfaceDeclaration(declaration) || ts.isClassDeclaration(declaration)
      ? declaration.members
      : ts.isTypeAliasDeclaration(declaration) && ts.isTypeLiteralNode(declaration.type)
        ? declaration.type.members
        : []
  return members.filter((member: ts.NamedDeclaration) => {
    if (ts.isConstructorDeclaration(member) || member.name === undefined) return false
    if (ts.isPrivateIdentifier(member.name)) return false
    const modifiers = ts.canHaveModifiers(member) ? (ts.getModifiers(member) ?? []) : []
    return !modifiers.some((modifier) => modifier.kind === ts.SyntaxKind.PrivateKeyword)
  })
}

/** `name (file:line)` of every public export and public member without a doc comment. */
function undocumented(): string[] {
  const program = ts.createProgram(ENTRY_POINTS, compilerOptions())
  const checker = program.getTypeChecker()
  const where = (node: ts.Node): string => {
    const file = node.getSourceFile()
    return `${file.fileName.slice(root.length + 1)}:${file.getLineAndCharacterOfPosition(node.getStart()).line + 1}`
  }
  const isOurs = (node: ts.Node): boolean => !node.getSourceFile().fileName.includes('/node_modules/')
  const missing = new Set<string>()
  const seen = new Set<ts.Symbol>()
  for (const entry of ENTRY_POINTS) {
    const file = program.getSourceFile(entry)
    const module = file && checker.getSymbolAtLocation(file)
    if (!module) throw new Error(`${entry} is not a module`)
    for (const exported of checker.getExportsOfModule(module)) {
      const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported
      const declaration = symbol.declarations?.[0]
      if (seen.has(symbol) || declaration === undefined || !isOurs(declaration)) continue
      seen.add(symbol)
      if (symbol.getDocumentationComment(checker).length === 0) {
        missing.add(`${exported.name} (${where(declaration)})`)
      }
      for (const member of publicMembers(declaration)) {
        const memberSymbol = checker.getSymbolAtLocation(member.name as ts.Node)
        if (memberSymbol && memberSymbol.getDocumentationComment(checker).length === 0) {
          missing.add(`${exported.name}.${memberSymbol.name} (${where(member)})`)
        }
      }
    }
  }
  return [...missing]
}

it('documents every public export and its public members in TSDoc', { timeout: 60_000 }, () => {
  expect(undocumented()).toEqual([])
})
