/**
 * The web console the server serves on `/`: built from this folder by
 * `npm run build:web` (scripts/build-web.mjs), every script and style from
 * the server itself, talking to its /graphql with Apollo Client.
 */
import './base.css';
import './browser.css';
import './panels.css';
import './narrow.css';
import { ApolloProvider } from '@apollo/client/react';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { createClient } from './api';
import { App } from './app';
import { NoticesProvider } from './notices';

createRoot(document.getElementById('console')!).render(
  <StrictMode>
    <ApolloProvider client={createClient()}>
      <NoticesProvider>
        <App />
      </NoticesProvider>
    </ApolloProvider>
  </StrictMode>,
);
